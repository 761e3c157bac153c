//! Connecting to the cloud an environment names: the local cloud (moto behind the region gateway)
//! or AWS through the standard credential chain.

use anyhow::Result;
use tandem_aws::{AwsClients, ClientSettings, StaticCredentials};
use tandem_stack_multi_region::Environment;

use crate::exit::{self, Failure};

/// SDK clients for the environment. The local cloud takes moto's conventional test credentials;
/// anything else uses the standard chain and profiles.
pub fn clients(env: &Environment) -> AwsClients {
    let mut endpoints: std::collections::HashMap<String, String> =
        env.api_endpoints().into_iter().collect();
    let credentials = env.local_cloud.as_ref().map(|lc| {
        // Regions other than the environment's two (Route 53 metrics live in us-east-1) go
        // through the gateway's global port.
        endpoints
            .entry("*".to_string())
            .or_insert_with(|| format!("http://127.0.0.1:{}", lc.global_port));
        StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        }
    });
    AwsClients::new(ClientSettings {
        endpoints,
        credentials,
        home_region: Some(env.primary_region.clone()),
        local_cloud: env.local_cloud.is_some(),
        ..ClientSettings::default()
    })
}

/// Refuses to go on when the credentials belong to an account other than the one the environment
/// names.
pub async fn preflight(clients: &AwsClients, env: &Environment) -> Result<()> {
    match tandem_aws::preflight(clients, env.account_id.as_deref()).await {
        Ok(_) => Ok(()),
        Err(e) => {
            // The wrong account, or credentials missing or refused, is exit 6; an endpoint that
            // does not answer is a cloud error like any other.
            let code = if e.class() == tandem_engine::provider::ErrorClass::AccessDenied {
                exit::ACCOUNT
            } else {
                exit::ERROR
            };
            Err(Failure::new(code, format!("preflight for environment {}: {e}", env.name)).into())
        }
    }
}
