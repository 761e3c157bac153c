//! The engine's errors. Each names the resource and region, or the file, concerned.

use tandem_core::{EvaluateError, ResourceAddr};

use crate::diff::PlanError;
use crate::journal::JournalError;
use crate::provider::ProviderError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Program(#[from] EvaluateError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{addr}: no provider for resource kind {kind:?}")]
    NoProvider { addr: ResourceAddr, kind: String },
    #[error("{addr} (region {region}): {operation} failed: {source}")]
    Provider {
        addr: ResourceAddr,
        region: String,
        operation: &'static str,
        source: ProviderError,
    },
    #[error("internal error: {0}")]
    Internal(String),
}
