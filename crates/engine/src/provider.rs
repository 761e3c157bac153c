//! The provider interface: how the engine creates, reads, updates and deletes one kind of resource.
//!
//! Providers know a cloud; the engine does not. The engine decides order, parallelism and policy;
//! a provider only performs one operation on one resource and says how it went.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tandem_core::{Props, ResourceAddr};

/// Who is asking, and the idempotency token for this operation.
///
/// The token is derived from the journal entry that recorded the intent, so a retried or resumed
/// operation presents the same token (use it as `CallerReference`, `ClientRequestToken`,
/// `OperationId`, ...).
#[derive(Clone, Debug)]
pub struct OpContext {
    pub addr: ResourceAddr,
    pub stack: String,
    pub env: String,
    pub token: String,
}

/// A resource as the cloud has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The cloud's identifier (bucket name, hosted zone id, DB identifier, ...).
    pub id: String,
    /// Live input properties, in the same vocabulary as the program's inputs, for drift detection.
    /// Properties that cannot be read back are copied from the last known inputs.
    pub inputs: Props,
    /// Outputs other resources may refer to (`arn`, `endpoint`, ...).
    pub outputs: Props,
}

/// How an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, time-outs, an operation already in progress: worth retrying.
    Retryable,
    /// The resource does not exist.
    NotFound,
    /// The caller may not do this (credentials, account, permissions).
    AccessDenied,
    /// The request is wrong and will stay wrong (validation).
    Invalid,
    /// Anything else.
    Other,
}

/// An error from a provider. The engine adds the resource address and region.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error("{message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    pub message: String,
}

impl ProviderError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> ProviderError {
        ProviderError {
            class,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ProviderError {
        ProviderError::new(ErrorClass::Invalid, message)
    }

    pub fn other(message: impl Into<String>) -> ProviderError {
        ProviderError::new(ErrorClass::Other, message)
    }
}

/// One kind of resource, for example `s3:Bucket`.
///
/// # Guarantees expected of an implementation
/// - `delete` of a resource that is already gone succeeds.
/// - `create` with the same token twice makes one resource: either the cloud deduplicates by the
///   token, or the resource has a deterministic name or `tandem:*` tags and `find` locates it.
/// - `validate` checks, before any cloud call, what the cloud checks late or not at all.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The kind this provider handles, `service:Type`.
    fn kind(&self) -> &'static str;

    /// Input properties whose change forces a replacement.
    fn replace_on(&self) -> &'static [&'static str];

    /// Checks known inputs before any cloud call. Unknown values are skipped.
    fn validate(&self, _addr: &ResourceAddr, _inputs: &Props) -> Result<(), String> {
        Ok(())
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError>;

    /// Reads the live resource; `None` when it no longer exists.
    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError>;

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError>;

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError>;

    /// Finds a resource that an interrupted create may have made (by deterministic name, tags or
    /// idempotency token), so that it is adopted instead of created twice.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError>;
}

/// The providers available to a run, by kind.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Providers {
    pub fn new() -> Providers {
        Providers::default()
    }

    pub fn add(&mut self, provider: Arc<dyn Provider>) {
        self.by_kind.insert(provider.kind(), provider);
    }

    pub fn with(mut self, provider: Arc<dyn Provider>) -> Providers {
        self.add(provider);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Provider>> {
        self.by_kind.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_kind.keys().copied()
    }
}
