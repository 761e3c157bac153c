//! The one path every AWS call takes: classification and bounded retries with jittered
//! exponential backoff.

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tandem_engine::provider::ErrorClass;
use tracing::Instrument;

use crate::error::{CallError, classify};

/// How often, and how patiently, a retryable call is retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `n` (1-based): "equal jitter" on `base * 2^(n-1)`, capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX))
            .min(self.cap);
        let half = exp / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// Runs `f` (one SDK call, rebuilt for each attempt) until it succeeds, fails with an error that
/// is not retryable, or runs out of attempts.
pub async fn call<T, E, F, Fut>(
    policy: &RetryPolicy,
    operation: &'static str,
    mut f: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let span = tracing::debug_span!("aws_call", operation);
    async move {
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let err = classify(operation, &e);
                    if err.class != ErrorClass::Retryable || attempt >= policy.attempts.max(1) {
                        if err.class == ErrorClass::Retryable {
                            return Err(CallError {
                                detail: format!(
                                    "{} (gave up after {attempt} attempts)",
                                    err.detail
                                ),
                                ..err
                            });
                        }
                        return Err(err);
                    }
                    let pause = policy.backoff(attempt);
                    tracing::debug!(attempt, ?pause, error = %err, "retrying");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for n in 1..20 {
            let d = p.backoff(n);
            assert!(d <= p.cap, "{d:?}");
        }
        assert!(p.backoff(1) <= Duration::from_millis(100));
        assert!(p.backoff(1) >= Duration::from_millis(50));
        assert!(p.backoff(4) >= Duration::from_millis(400));
    }
}
