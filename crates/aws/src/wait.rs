//! Bounded polling, for resources that take time to settle (RDS instances, stack operations,
//! Route 53 changes). The first check is immediate, so an instant cloud costs one call.

use std::future::Future;
use std::time::{Duration, Instant};

use tandem_engine::provider::ErrorClass;

use crate::error::CallError;

/// How long and how often to poll.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitPolicy {
    pub first_interval: Duration,
    pub max_interval: Duration,
    /// The longest wait for RDS (instances take minutes to hours).
    pub rds_timeout: Duration,
    /// The longest wait for CloudFormation stacks and stack-set operations.
    pub cloudformation_timeout: Duration,
    /// The longest wait for a Route 53 change to reach `INSYNC`.
    pub route53_timeout: Duration,
}

impl Default for WaitPolicy {
    fn default() -> WaitPolicy {
        WaitPolicy {
            first_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(20),
            rds_timeout: Duration::from_secs(3 * 3600),
            cloudformation_timeout: Duration::from_secs(3600),
            route53_timeout: Duration::from_secs(300),
        }
    }
}

/// What one check found.
pub enum Check<T> {
    Done(T),
    /// Not yet; the current state, for the time-out message.
    Pending(String),
}

/// Polls `check` until it is done, fails, or `timeout` passes.
pub async fn until<T, F, Fut>(
    operation: &'static str,
    what: &str,
    policy: &WaitPolicy,
    timeout: Duration,
    mut check: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, CallError>>,
{
    let start = Instant::now();
    let mut interval = policy.first_interval;
    loop {
        match check().await? {
            Check::Done(v) => return Ok(v),
            Check::Pending(state) => {
                if start.elapsed() >= timeout {
                    return Err(CallError::new(
                        operation,
                        ErrorClass::Other,
                        format!(
                            "timed out after {}s waiting for {what} (last state: {state})",
                            timeout.as_secs()
                        ),
                    ));
                }
                tracing::debug!(what, state, "waiting");
                tokio::time::sleep(interval).await;
                interval = (interval * 2).min(policy.max_interval);
            }
        }
    }
}
