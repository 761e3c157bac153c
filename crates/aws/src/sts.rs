//! The STS preflight: who are these credentials, and are they for the expected account?

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::AwsError;

/// The identity behind the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// Asks STS who the credentials belong to; refuses a different account than `expected_account`.
///
/// # Errors
/// [`AwsError::WrongAccount`] when the account differs; [`AwsError::Call`] when STS cannot be
/// reached or refuses the credentials.
pub async fn preflight(
    clients: &AwsClients,
    expected_account: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    preflight_in(clients, clients.home_region(), expected_account).await
}

/// [`preflight`] through the STS endpoint of `region` (a failover must not depend on the home
/// region's).
pub async fn preflight_in(
    clients: &AwsClients,
    region: &str,
    expected_account: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    let sts = clients.sts(region).await;
    let out = call(clients.retry(), "sts:GetCallerIdentity", || {
        sts.get_caller_identity().send()
    })
    .await?;
    let identity = CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    };
    if let Some(expected) = expected_account {
        if identity.account != expected {
            return Err(AwsError::WrongAccount {
                expected: expected.to_string(),
                actual: identity.account,
            });
        }
    }
    Ok(identity)
}
