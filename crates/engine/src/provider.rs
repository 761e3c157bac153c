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

/// How the cloud tells one resource of a kind from another: what [`Provider::find`] looks it up
/// by, and so what recovery and a create can adopt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Named by these inputs (with the address's region): two resources with equal values are the
    /// same resource. `find` looks it up by them, whatever the run that made it; a replacement
    /// whose values are unchanged must delete the old resource first.
    Named(&'static [&'static str]),
    /// Carries `tandem:*` tags naming its stack, environment and address; `find` looks it up by
    /// them (and by the create's token), whatever the run that made it.
    Tagged,
    /// Found only by the idempotency token of the create that made it (`CallerReference`, ...):
    /// recovery of that create can adopt it, a later run cannot.
    Token,
}

impl Identity {
    /// Whether `find` locates a resource made by any run (not only by the token of its create).
    pub fn findable_by_any_run(self) -> bool {
        !matches!(self, Identity::Token)
    }

    /// The inputs that name the resource (none unless [`Identity::Named`]).
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Identity::Named(names) => names,
            Identity::Tagged | Identity::Token => &[],
        }
    }

    /// How `find` looks a resource up, for recovery notes.
    pub fn describe(self) -> String {
        match self {
            Identity::Named(names) => format!("by {}", names.join(", ")),
            Identity::Tagged => "by its tandem tags".into(),
            Identity::Token => "by the token of the create that made it".into(),
        }
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

    /// How a resource of this kind is identified in the cloud. [`Identity::Token`] unless the
    /// provider says otherwise: a create then never looks for an existing resource first.
    fn identity(&self) -> Identity {
        Identity::Token
    }

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
