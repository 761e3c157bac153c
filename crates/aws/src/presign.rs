//! The `PreSignedUrl` of a cross-region encrypted read replica.
//!
//! AWS wants, with `CreateDBInstanceReadReplica` called in the destination region for an
//! encrypted source in another region, a URL holding the same request as it would run in the
//! *source* region, signed there with SigV4 in the query string (the SDKs of other languages build
//! it from `SourceRegion`; the Rust SDK does not). The URL carries `Action`, `Version`,
//! `DestinationRegion`, `SourceDBInstanceIdentifier` (the source's ARN) and `KmsKeyId` (the
//! destination-region key), then the `X-Amz-*` signing parameters.
//!
//! The local cloud ignores the URL, so its shape is tested here, and its signature against one
//! computed by botocore for the same request, credentials and time. The signer is the `aws-sigv4`
//! crate (the SDK's own), with the credentials the client resolved.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use tandem_engine::provider::ErrorClass;

use crate::clients::AwsClients;
use crate::error::CallError;

const OPERATION: &str = "rds:CreateDBInstanceReadReplica";

/// How long the URL is valid: the destination region uses it right away.
pub const EXPIRES_IN: Duration = Duration::from_secs(3600);

/// What the pre-signed request asks of the source region.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaRequest<'a> {
    /// The source DB instance's ARN; its region is the region the URL is signed for.
    pub source_db_arn: &'a str,
    /// Where the replica is created (where the real call is made).
    pub destination_region: &'a str,
    /// The destination-region KMS key of the replica.
    pub kms_key_id: Option<&'a str>,
}

/// The region named by an ARN (`arn:PARTITION:SERVICE:REGION:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

/// RDS's public endpoint host in `region`.
pub fn rds_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("rds.{region}.amazonaws.com.cn")
    } else {
        format!("rds.{region}.amazonaws.com")
    }
}

/// Percent-encodes as SigV4 does: everything but `A-Z a-z 0-9 - _ . ~`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn invalid(detail: impl Into<String>) -> CallError {
    CallError::new(OPERATION, ErrorClass::Invalid, detail)
}

/// The pre-signed `CreateDBInstanceReadReplica` URL for `req`, signed at `time` for the source
/// region with `credentials`.
///
/// # Errors
/// An invalid-request [`CallError`] when the source ARN names no region or signing fails.
pub fn presigned_url(
    req: &ReplicaRequest<'_>,
    credentials: &Credentials,
    time: SystemTime,
    expires_in: Duration,
) -> Result<String, CallError> {
    let source_region = arn_region(req.source_db_arn).ok_or_else(|| {
        invalid(format!(
            "cannot pre-sign: the source {:?} is not an ARN naming a region",
            req.source_db_arn
        ))
    })?;
    let mut query = vec![
        ("Action", "CreateDBInstanceReadReplica"),
        ("Version", "2014-10-31"),
        ("DestinationRegion", req.destination_region),
        ("SourceDBInstanceIdentifier", req.source_db_arn),
    ];
    if let Some(k) = req.kms_key_id {
        query.push(("KmsKeyId", k));
    }
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = format!("https://{}/?{}", rds_host(source_region), query.join("&"));

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(source_region)
        .name("rds")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| invalid(format!("cannot pre-sign: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| invalid(format!("cannot pre-sign: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| invalid(format!("cannot pre-sign: {e}")))?
        .into_parts();
    let mut signed = url;
    for (k, v) in instructions.params() {
        signed.push('&');
        signed.push_str(k);
        signed.push('=');
        signed.push_str(&encode(v));
    }
    Ok(signed)
}

/// The credentials `clients` resolve for `region` (the same the SDK signs its calls with).
pub async fn resolve_credentials(
    clients: &AwsClients,
    region: &str,
) -> Result<Credentials, CallError> {
    let config = clients.config(region).await;
    let provider = config.credentials_provider().ok_or_else(|| {
        CallError::new(
            OPERATION,
            ErrorClass::AccessDenied,
            "cannot pre-sign: no credentials are configured",
        )
    })?;
    provider.provide_credentials().await.map_err(|e| {
        CallError::new(
            OPERATION,
            ErrorClass::AccessDenied,
            format!("cannot pre-sign: the credentials could not be resolved: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "test",
        )
    }

    /// 2024-05-01T12:00:00Z.
    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800)
    }

    fn request() -> ReplicaRequest<'static> {
        ReplicaRequest {
            source_db_arn: "arn:aws:rds:us-east-1:123456789012:db:app-db",
            destination_region: "us-west-2",
            kms_key_id: Some("arn:aws:kms:us-west-2:123456789012:key/replica-key"),
        }
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        let (_, q) = url.split_once('?').unwrap();
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
        q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn url_is_the_source_region_request_signed_in_the_query() {
        let url = presigned_url(&request(), &creds(None), at(), EXPIRES_IN).unwrap();
        assert!(
            url.starts_with("https://rds.us-east-1.amazonaws.com/?"),
            "{url}"
        );
        let q = query_of(&url);
        assert_eq!(get(&q, "Action"), Some("CreateDBInstanceReadReplica"));
        assert_eq!(get(&q, "Version"), Some("2014-10-31"));
        assert_eq!(get(&q, "DestinationRegion"), Some("us-west-2"));
        assert_eq!(
            get(&q, "SourceDBInstanceIdentifier"),
            Some("arn%3Aaws%3Ards%3Aus-east-1%3A123456789012%3Adb%3Aapp-db")
        );
        assert_eq!(
            get(&q, "KmsKeyId"),
            Some("arn%3Aaws%3Akms%3Aus-west-2%3A123456789012%3Akey%2Freplica-key")
        );
        assert_eq!(get(&q, "X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
        assert_eq!(
            get(&q, "X-Amz-Credential"),
            Some("AKIDEXAMPLE%2F20240501%2Fus-east-1%2Frds%2Faws4_request"),
            "signed for the source region"
        );
        assert_eq!(get(&q, "X-Amz-Date"), Some("20240501T120000Z"));
        assert_eq!(get(&q, "X-Amz-Expires"), Some("3600"));
        assert_eq!(get(&q, "X-Amz-SignedHeaders"), Some("host"));
        // The same URL signed by botocore's `SigV4QueryAuth` (what boto3 sends for SourceRegion),
        // with these credentials and this time, has this signature.
        assert_eq!(
            get(&q, "X-Amz-Signature"),
            Some("2d166d72e89f60301d50c307428289c7cc73950785e9bff0293792869177777d")
        );
        assert_eq!(get(&q, "X-Amz-Security-Token"), None);
        // Deterministic for fixed credentials and time; different for another time.
        assert_eq!(
            url,
            presigned_url(&request(), &creds(None), at(), EXPIRES_IN).unwrap()
        );
        let later = presigned_url(
            &request(),
            &creds(None),
            at() + Duration::from_secs(1),
            EXPIRES_IN,
        );
        assert_ne!(url, later.unwrap());
    }

    #[test]
    fn session_token_travels_and_bad_arns_are_errors() {
        let url = presigned_url(&request(), &creds(Some("tok/en")), at(), EXPIRES_IN).unwrap();
        assert_eq!(
            get(&query_of(&url), "X-Amz-Security-Token"),
            Some("tok%2Fen")
        );
        let bad = ReplicaRequest {
            source_db_arn: "app-db",
            ..request()
        };
        let e = presigned_url(&bad, &creds(None), at(), EXPIRES_IN).unwrap_err();
        assert_eq!(e.class, ErrorClass::Invalid);
        assert!(
            e.to_string().contains("rds:CreateDBInstanceReadReplica"),
            "{e}"
        );
        assert_eq!(
            arn_region("arn:aws:rds:eu-west-1:1:db:x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("arn:aws:s3:::bucket"), None);
        assert_eq!(rds_host("cn-north-1"), "rds.cn-north-1.amazonaws.com.cn");
    }
}
