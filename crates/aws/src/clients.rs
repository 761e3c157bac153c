//! SDK configuration per region, with endpoint overrides for the local cloud.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::Mutex;

use crate::call::RetryPolicy;
use crate::wait::WaitPolicy;

/// The region Route 53's control plane (and its signing) lives in.
pub const ROUTE53_REGION: &str = "us-east-1";

/// Explicit credentials, for tests against the local cloud (instead of mutating the environment).
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"(redacted)")
            .finish()
    }
}

/// How to reach AWS.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    /// Endpoint overrides by region name, or `global` for Route 53 (which falls back to the
    /// `us-east-1` entry). The standard `AWS_ENDPOINT_URL` variable wins over this map.
    pub endpoints: HashMap<String, String>,
    /// A named profile; `None` uses the standard chain (`AWS_PROFILE`, environment, ...).
    pub profile: Option<String>,
    /// Explicit credentials; `None` uses the standard credential chain.
    pub credentials: Option<StaticCredentials>,
    /// The region for account-level calls (STS); default `us-east-1`.
    pub home_region: Option<String>,
    /// The endpoint is the local cloud (moto): properties it does not store are not compared.
    ///
    /// Where moto answers a fixed value instead of what was set (`DeleteMarkerReplication`,
    /// `SourceSelectionCriteria` of an S3 replication rule), a read copies the last known input
    /// instead, so that such a property never shows as drift. Leave it `false` for AWS.
    pub local_cloud: bool,
    pub retry: RetryPolicy,
    pub wait: WaitPolicy,
}

/// One SDK configuration per region, built on first use from `aws-config`, and the clients made
/// from them. Cheap to clone.
///
/// The SDK's own retries are off: every call goes through [`crate::call`], which classifies errors
/// and retries with jittered exponential backoff.
#[derive(Clone)]
pub struct AwsClients {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClientSettings,
    configs: Mutex<HashMap<String, SdkConfig>>,
}

impl std::fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClients")
            .field("settings", &self.inner.settings)
            .finish()
    }
}

impl AwsClients {
    pub fn new(settings: ClientSettings) -> AwsClients {
        AwsClients {
            inner: Arc::new(Inner {
                settings,
                configs: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Clients for the local cloud at `endpoint`, with the conventional test credentials
    /// (and [`ClientSettings::local_cloud`] set).
    pub fn local(endpoint: &str, access_key_id: &str, secret_access_key: &str) -> AwsClients {
        let mut endpoints = HashMap::new();
        endpoints.insert("global".to_string(), endpoint.to_string());
        endpoints.insert("*".to_string(), endpoint.to_string());
        AwsClients::new(ClientSettings {
            endpoints,
            credentials: Some(StaticCredentials {
                access_key_id: access_key_id.into(),
                secret_access_key: secret_access_key.into(),
                session_token: None,
            }),
            local_cloud: true,
            ..ClientSettings::default()
        })
    }

    /// Whether the endpoint is the local cloud (see [`ClientSettings::local_cloud`]).
    pub fn local_cloud(&self) -> bool {
        self.inner.settings.local_cloud
    }

    /// Whether the cloud behind these clients may be an emulator rather than AWS: true when
    /// [`ClientSettings::local_cloud`] is set, or when any endpoint override applies (the
    /// settings' endpoint map is not empty, or the standard `AWS_ENDPOINT_URL` variable is set and
    /// not empty; see [`endpoint_for`](Self::endpoint_for)). AWS is reached through its own
    /// endpoints; an override is how the local cloud (moto) is reached, with or without
    /// `local_cloud`.
    ///
    /// Read-only helpers use it to say "not verifiable here" of what an emulator does not model
    /// faithfully (for example moto keeps `ReadReplicaSourceDBInstanceIdentifier` after a
    /// promotion), instead of reporting the emulator's answer as a verdict. An override that
    /// points at AWS itself (a VPC or FIPS endpoint) counts as emulated too: such a verdict is then
    /// "not verifiable", never a wrong one.
    pub fn emulated(&self) -> bool {
        let env_override = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.is_empty());
        self.inner.settings.local_cloud || !self.inner.settings.endpoints.is_empty() || env_override
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.inner.settings.retry
    }

    pub fn wait(&self) -> &WaitPolicy {
        &self.inner.settings.wait
    }

    pub fn home_region(&self) -> &str {
        self.inner
            .settings
            .home_region
            .as_deref()
            .unwrap_or(ROUTE53_REGION)
    }

    /// The endpoint override for `key` (a region or `global`), if any. `AWS_ENDPOINT_URL` wins;
    /// then the map's entry for `key`; for `global`, the `us-east-1` entry; then a `*` entry.
    pub fn endpoint_for(&self, key: &str) -> Option<String> {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
            if !url.is_empty() {
                return Some(url);
            }
        }
        let map = &self.inner.settings.endpoints;
        map.get(key)
            .or_else(|| (key == "global").then(|| map.get(ROUTE53_REGION)).flatten())
            .or_else(|| map.get("*"))
            .cloned()
    }

    /// The SDK configuration for `region` (`global` means Route 53's us-east-1 with the global
    /// endpoint).
    pub async fn config(&self, region: &str) -> SdkConfig {
        let mut configs = self.inner.configs.lock().await;
        if let Some(c) = configs.get(region) {
            return c.clone();
        }
        let signing_region = if region == "global" {
            ROUTE53_REGION
        } else {
            region
        };
        let s = &self.inner.settings;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(signing_region.to_string()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = &s.profile {
            loader = loader.profile_name(p);
        }
        if let Some(c) = &s.credentials {
            loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "tandem-static",
            ));
        }
        if let Some(url) = self.endpoint_for(region) {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        configs.insert(region.to_string(), config.clone());
        config
    }

    fn overridden(&self, region: &str) -> bool {
        self.endpoint_for(region).is_some()
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config(region).await)
            .force_path_style(self.overridden(region))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Route 53 is global: signed for us-east-1, at the `global` endpoint.
    pub async fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.config("global").await)
    }

    pub async fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.config(region).await)
    }

    pub async fn cloudformation(&self, region: &str) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config(region).await)
    }

    pub async fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.config(region).await)
    }

    pub async fn autoscaling(&self, region: &str) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.config(region).await)
    }

    pub async fn secretsmanager(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config(region).await)
    }

    pub async fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config(region).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_cloud_and_endpoint_overrides_are_emulated() {
        assert!(AwsClients::local("http://127.0.0.1:1", "k", "s").emulated());
        let local = ClientSettings {
            local_cloud: true,
            ..ClientSettings::default()
        };
        assert!(AwsClients::new(local).emulated());
        let mut endpoints = HashMap::new();
        endpoints.insert("us-west-2".to_string(), "http://127.0.0.1:1".to_string());
        let overridden = ClientSettings {
            endpoints,
            ..ClientSettings::default()
        };
        assert!(AwsClients::new(overridden).emulated());
        // No override: AWS, unless the standard variable points elsewhere.
        let env_override = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.is_empty());
        assert_eq!(
            AwsClients::new(ClientSettings::default()).emulated(),
            env_override
        );
    }
}
