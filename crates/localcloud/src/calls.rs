//! The gateway's call log: which API actions the requests it forwards ask for.
//!
//! Every signed request a region or global listener reads is recorded as (service, action,
//! region), whatever faults then do to it: the SDK sent it, so on AWS it needs a permission. The
//! service is the SigV4 credential scope's (CloudWatch's signing name `monitoring` recorded as
//! `cloudwatch`, its IAM and API prefix); the action is the `X-Amz-Target` header's operation
//! (`AmazonSSM.GetParameter` → `GetParameter`), else the `Action` parameter of a query-protocol
//! form body or query string, else for the REST services S3 and Route 53 the operation their
//! method and path mean. A REST request no table here knows is recorded as
//! `UNKNOWN METHOD PATH`, so that a check of the log fails loudly rather than missing it.
//! Unsigned requests (the application health endpoint, probes) are not AWS calls and are not
//! recorded. The log keeps distinct entries with a count, at most [`MAX_ENTRIES`] of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fault::{Decision, Outcome};
use crate::http1::Request;
use crate::protocol::Scope;

/// How many distinct (service, action, region) entries the log keeps; later new ones are counted
/// in [`CallLogSnapshot::dropped`].
pub const MAX_ENTRIES: usize = 10_000;

/// One distinct call the gateway saw, and how many times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordedCall {
    /// The API's service prefix (`s3`, `rds`, `cloudwatch`, ...).
    pub service: String,
    /// The operation (`HeadBucket`), or `UNKNOWN METHOD PATH`.
    pub action: String,
    /// The credential scope's region.
    pub region: String,
    pub count: u64,
}

impl RecordedCall {
    /// `service:Action`.
    pub fn api(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }
}

/// What `GET /calls` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLogSnapshot {
    /// Sorted by service, action, region.
    pub calls: Vec<RecordedCall>,
    /// New distinct calls not kept because the log was full.
    pub dropped: u64,
}

/// What the gateway's faults did to the requests it read (`GET /stats`), since it started or since
/// the call log was last cleared (`DELETE /calls`): what a fault trial reports as "faults injected".
///
/// Every request on a region or global listener counts, signed or not (the application health
/// endpoint too); a request counts once in each fault that hit it (a delayed request may also be
/// throttled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Requests read (and connections refused or held at accept).
    pub requests: u64,
    /// Answered with the service's throttling error.
    pub throttled: u64,
    /// Answered with HTTP 500 `InternalError`.
    pub failed: u64,
    /// Delayed by a latency fault.
    pub delayed: u64,
    /// Refused or held by a blackhole.
    pub blackholed: u64,
}

impl FaultStats {
    /// Requests answered with an error the client must retry: throttled, failed or blackholed.
    pub fn errors(&self) -> u64 {
        self.throttled + self.failed + self.blackholed
    }
}

/// The log itself (behind the gateway's lock).
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    entries: BTreeMap<(String, String, String), u64>,
    dropped: u64,
    stats: FaultStats,
}

impl CallLog {
    pub fn record(&mut self, scope: &Scope, request: &Request) {
        let key = (
            api_service(&scope.service).to_owned(),
            action_of(&scope.service, request),
            scope.region.clone(),
        );
        if let Some(n) = self.entries.get_mut(&key) {
            *n += 1;
        } else if self.entries.len() < MAX_ENTRIES {
            self.entries.insert(key, 1);
        } else {
            self.dropped += 1;
        }
    }

    pub fn clear(&mut self) {
        *self = CallLog::default();
    }

    /// Counts one request and what `decision` does to it.
    pub fn count(&mut self, decision: &Decision) {
        let s = &mut self.stats;
        s.requests += 1;
        if decision.blackhole.is_some() {
            s.blackholed += 1;
            return;
        }
        s.delayed += u64::from(!decision.latency.is_zero());
        match decision.outcome {
            Outcome::Throttle => s.throttled += 1,
            Outcome::Fail => s.failed += 1,
            Outcome::Pass => {}
        }
    }

    /// Counts one connection refused or held at accept by a blackhole.
    pub fn count_blackholed_connection(&mut self) {
        self.stats.requests += 1;
        self.stats.blackholed += 1;
    }

    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    pub fn snapshot(&self) -> CallLogSnapshot {
        CallLogSnapshot {
            calls: self
                .entries
                .iter()
                .map(|((service, action, region), count)| RecordedCall {
                    service: service.clone(),
                    action: action.clone(),
                    region: region.clone(),
                    count: *count,
                })
                .collect(),
            dropped: self.dropped,
        }
    }
}

/// The API (and IAM) prefix of a SigV4 signing name.
fn api_service(signing_name: &str) -> &str {
    match signing_name {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

/// The operation `request` asks `service` for (see the module's documentation).
pub(crate) fn action_of(service: &str, request: &Request) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    if let Some(action) = query_action(request) {
        return action;
    }
    // Smithy RPC v2 CBOR: `POST /service/NAME/operation/OPERATION`.
    if let ["service", _, "operation", op] = segments(request.path()).as_slice() {
        return (*op).to_owned();
    }
    let method = request.method.to_ascii_uppercase();
    let known = match service {
        "s3" => s3_operation(&method, request),
        "route53" => route53_operation(&method, request.path()),
        _ => None,
    };
    known.map_or_else(
        || format!("UNKNOWN {method} {}", request.path()),
        str::to_owned,
    )
}

/// The `Action` of a query-protocol request: in its form body, else in its query string.
fn query_action(request: &Request) -> Option<String> {
    let form = request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let body = form
        .then(|| std::str::from_utf8(&request.body).ok())
        .flatten();
    [body, Some(request.query())]
        .into_iter()
        .flatten()
        .find_map(|params| {
            params.split('&').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name == "Action" && !value.is_empty()).then(|| value.to_owned())
            })
        })
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The names of the query's parameters, presigning ones left out.
fn query_keys(query: &str) -> Vec<&str> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .filter(|k| !k.starts_with("X-Amz-") && !k.starts_with("x-amz-"))
        .collect()
}

/// S3 (path-style, as the SDK addresses an endpoint override): the bucket is the first segment,
/// a key follows it; a bucket's sub-resource is a query key.
fn s3_operation(method: &str, request: &Request) -> Option<&'static str> {
    let keys = query_keys(request.query());
    let path = segments(request.path());
    // The SDK names some operations itself (`?x-id=GetObject`).
    if let Some(id) = request
        .query()
        .split('&')
        .find_map(|p| p.strip_prefix("x-id="))
    {
        return S3_X_IDS.iter().find(|op| **op == id).copied();
    }
    let sub = |name: &str| keys.contains(&name);
    let by_sub = |table: &[(&str, &str, &'static str)]| {
        table
            .iter()
            .find(|(m, k, _)| *m == method && sub(k))
            .map(|(_, _, op)| *op)
    };
    match path.len() {
        0 => (method == "GET").then_some("ListBuckets"),
        1 => by_sub(S3_BUCKET_SUBRESOURCES).or_else(|| {
            let listing = keys.iter().all(|k| S3_LIST_PARAMETERS.contains(k));
            match method {
                "GET" if sub("list-type") && listing => Some("ListObjectsV2"),
                "GET" if listing => Some("ListObjects"),
                _ if !keys.is_empty() => None,
                "PUT" => Some("CreateBucket"),
                "HEAD" => Some("HeadBucket"),
                "DELETE" => Some("DeleteBucket"),
                _ => None,
            }
        }),
        _ => by_sub(S3_OBJECT_SUBRESOURCES).or_else(|| {
            if !keys.is_empty() {
                return None;
            }
            match method {
                "GET" => Some("GetObject"),
                "HEAD" => Some("HeadObject"),
                "DELETE" => Some("DeleteObject"),
                "PUT" if request.header("x-amz-copy-source").is_some() => Some("CopyObject"),
                "PUT" => Some("PutObject"),
                _ => None,
            }
        }),
    }
}

/// Operations the SDK may name with `x-id`.
const S3_X_IDS: &[&str] = &[
    "GetObject",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "ListObjectVersions",
    "GetObjectTagging",
    "PutObjectTagging",
];

/// The parameters of a bucket listing (not sub-resources).
const S3_LIST_PARAMETERS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "continuation-token",
    "start-after",
    "fetch-owner",
];

/// (method, query key, operation) of a bucket's sub-resources.
const S3_BUCKET_SUBRESOURCES: &[(&str, &str, &str)] = &[
    ("GET", "versioning", "GetBucketVersioning"),
    ("PUT", "versioning", "PutBucketVersioning"),
    ("GET", "encryption", "GetBucketEncryption"),
    ("PUT", "encryption", "PutBucketEncryption"),
    ("DELETE", "encryption", "DeleteBucketEncryption"),
    ("GET", "publicAccessBlock", "GetPublicAccessBlock"),
    ("PUT", "publicAccessBlock", "PutPublicAccessBlock"),
    ("DELETE", "publicAccessBlock", "DeletePublicAccessBlock"),
    ("GET", "policy", "GetBucketPolicy"),
    ("PUT", "policy", "PutBucketPolicy"),
    ("DELETE", "policy", "DeleteBucketPolicy"),
    ("GET", "tagging", "GetBucketTagging"),
    ("PUT", "tagging", "PutBucketTagging"),
    ("DELETE", "tagging", "DeleteBucketTagging"),
    ("GET", "replication", "GetBucketReplication"),
    ("PUT", "replication", "PutBucketReplication"),
    ("DELETE", "replication", "DeleteBucketReplication"),
    ("GET", "location", "GetBucketLocation"),
    ("GET", "versions", "ListObjectVersions"),
    ("POST", "delete", "DeleteObjects"),
];

/// (method, query key, operation) of an object's sub-resources.
const S3_OBJECT_SUBRESOURCES: &[(&str, &str, &str)] = &[
    ("GET", "tagging", "GetObjectTagging"),
    ("PUT", "tagging", "PutObjectTagging"),
    ("DELETE", "tagging", "DeleteObjectTagging"),
];

/// Route 53's REST paths (`/2013-04-01/...`).
fn route53_operation(method: &str, path: &str) -> Option<&'static str> {
    let segments = segments(path);
    let ["2013-04-01", rest @ ..] = segments.as_slice() else {
        return None;
    };
    Some(match (method, rest) {
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("GET", ["hostedzone"]) => "ListHostedZones",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["hostedzonecount"]) => "GetHostedZoneCount",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("POST", ["hostedzone", _]) => "UpdateHostedZoneComment",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("GET", ["change", _]) => "GetChange",
        ("POST", ["healthcheck"]) => "CreateHealthCheck",
        ("GET", ["healthcheck"]) => "ListHealthChecks",
        ("GET", ["healthcheckcount"]) => "GetHealthCheckCount",
        ("GET", ["healthcheck", _]) => "GetHealthCheck",
        ("POST", ["healthcheck", _]) => "UpdateHealthCheck",
        ("DELETE", ["healthcheck", _]) => "DeleteHealthCheck",
        ("GET", ["healthcheck", _, "status"]) => "GetHealthCheckStatus",
        ("GET", ["healthcheck", _, "lastfailurereason"]) => "GetHealthCheckLastFailureReason",
        ("POST", ["tags", _]) => "ListTagsForResources",
        ("POST", ["tags", _, _]) => "ChangeTagsForResource",
        ("GET", ["tags", _, _]) => "ListTagsForResource",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn action(service: &str, method: &str, target: &str) -> String {
        action_of(service, &request(method, target, &[], ""))
    }

    #[test]
    fn json_query_and_cbor_protocols() {
        let json = request(
            "POST",
            "/",
            &[("X-Amz-Target", "AmazonSSM.GetParameter")],
            "{}",
        );
        assert_eq!(action_of("ssm", &json), "GetParameter");
        let form = request(
            "POST",
            "/",
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            "Version=2014-10-31&Action=DescribeDBInstances&DBInstanceIdentifier=a",
        );
        assert_eq!(action_of("rds", &form), "DescribeDBInstances");
        assert_eq!(
            action(
                "sts",
                "GET",
                "/?Action=GetCallerIdentity&Version=2011-06-15"
            ),
            "GetCallerIdentity"
        );
        assert_eq!(
            action(
                "monitoring",
                "POST",
                "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"
            ),
            "PutMetricAlarm"
        );
        assert_eq!(api_service("monitoring"), "cloudwatch");
    }

    #[test]
    fn s3_rest_calls() {
        for (method, target, op) in [
            ("PUT", "/tandem-x-assets", "CreateBucket"),
            ("HEAD", "/tandem-x-assets", "HeadBucket"),
            ("DELETE", "/tandem-x-assets", "DeleteBucket"),
            ("GET", "/tandem-x-assets?versioning", "GetBucketVersioning"),
            ("PUT", "/tandem-x-assets?versioning", "PutBucketVersioning"),
            ("DELETE", "/b?encryption", "DeleteBucketEncryption"),
            ("PUT", "/b?publicAccessBlock", "PutPublicAccessBlock"),
            ("GET", "/b?policy", "GetBucketPolicy"),
            ("PUT", "/b?tagging", "PutBucketTagging"),
            ("PUT", "/b?replication", "PutBucketReplication"),
            ("GET", "/b?location", "GetBucketLocation"),
            ("GET", "/b?versions&max-keys=1000", "ListObjectVersions"),
            ("POST", "/b?delete", "DeleteObjects"),
            ("POST", "/b?delete&x-id=DeleteObjects", "DeleteObjects"),
            ("GET", "/b?list-type=2&prefix=a", "ListObjectsV2"),
            ("GET", "/b?max-keys=10", "ListObjects"),
            ("GET", "/b/some/key?x-id=GetObject", "GetObject"),
            ("PUT", "/b/key", "PutObject"),
            ("GET", "/b/key?tagging", "GetObjectTagging"),
            ("GET", "/", "ListBuckets"),
        ] {
            assert_eq!(action("s3", method, target), op, "{method} {target}");
        }
        assert_eq!(
            action("s3", "PUT", "/b?lifecycle"),
            "UNKNOWN PUT /b",
            "an unmapped sub-resource is reported, not guessed"
        );
        assert_eq!(action("s3", "GET", "/b?x-id=Nope"), "UNKNOWN GET /b");
    }

    #[test]
    fn route53_rest_calls() {
        for (method, target, op) in [
            ("POST", "/2013-04-01/hostedzone", "CreateHostedZone"),
            (
                "GET",
                "/2013-04-01/hostedzonesbyname?dnsname=a.example.",
                "ListHostedZonesByName",
            ),
            ("GET", "/2013-04-01/hostedzone/Z1", "GetHostedZone"),
            (
                "POST",
                "/2013-04-01/hostedzone/Z1",
                "UpdateHostedZoneComment",
            ),
            ("DELETE", "/2013-04-01/hostedzone/Z1", "DeleteHostedZone"),
            (
                "POST",
                "/2013-04-01/hostedzone/Z1/rrset/",
                "ChangeResourceRecordSets",
            ),
            (
                "GET",
                "/2013-04-01/hostedzone/Z1/rrset?name=a",
                "ListResourceRecordSets",
            ),
            ("GET", "/2013-04-01/change/C1", "GetChange"),
            ("POST", "/2013-04-01/healthcheck", "CreateHealthCheck"),
            (
                "GET",
                "/2013-04-01/healthcheck?marker=x",
                "ListHealthChecks",
            ),
            ("POST", "/2013-04-01/healthcheck/h1", "UpdateHealthCheck"),
            (
                "GET",
                "/2013-04-01/healthcheck/h1/status",
                "GetHealthCheckStatus",
            ),
            (
                "POST",
                "/2013-04-01/tags/healthcheck/h1",
                "ChangeTagsForResource",
            ),
            (
                "GET",
                "/2013-04-01/tags/hostedzone/Z1",
                "ListTagsForResource",
            ),
        ] {
            assert_eq!(action("route53", method, target), op, "{method} {target}");
        }
        assert_eq!(
            action("route53", "GET", "/2013-04-01/trafficpolicies"),
            "UNKNOWN GET /2013-04-01/trafficpolicies"
        );
    }

    #[test]
    fn the_log_counts_distinct_calls_and_is_bounded() {
        let mut log = CallLog::default();
        let scope = |service: &str, region: &str| Scope {
            service: service.into(),
            region: region.into(),
        };
        let head = request("HEAD", "/b", &[], "");
        log.record(&scope("s3", "us-east-1"), &head);
        log.record(&scope("s3", "us-east-1"), &head);
        log.record(&scope("s3", "us-west-2"), &head);
        let snap = log.snapshot();
        assert_eq!(snap.calls.len(), 2);
        assert_eq!(snap.calls[0].count, 2);
        assert_eq!(snap.calls[0].api(), "s3:HeadBucket");
        for i in 0..MAX_ENTRIES + 5 {
            log.record(
                &scope("s3", "us-east-1"),
                &request("GET", &format!("/b{i}?acl"), &[], ""),
            );
        }
        let snap = log.snapshot();
        assert_eq!(snap.calls.len(), MAX_ENTRIES);
        assert_eq!(snap.dropped, 7);
        log.clear();
        assert_eq!(log.snapshot(), CallLogSnapshot::default());
    }

    #[test]
    fn the_stats_count_each_fault_that_hit_a_request() {
        use crate::fault::BlackholeMode;
        use std::time::Duration;
        let mut log = CallLog::default();
        let decision = |blackhole, latency_ms, outcome| Decision {
            blackhole,
            latency: Duration::from_millis(latency_ms),
            outcome,
        };
        log.count(&decision(None, 0, Outcome::Pass));
        log.count(&decision(None, 50, Outcome::Throttle));
        log.count(&decision(None, 0, Outcome::Fail));
        log.count(&decision(Some(BlackholeMode::Refuse), 50, Outcome::Fail));
        log.count_blackholed_connection();
        let expected = FaultStats {
            requests: 5,
            throttled: 1,
            failed: 1,
            delayed: 1,
            blackholed: 2,
        };
        assert_eq!(log.stats(), expected);
        assert_eq!(log.stats().errors(), 4);
        log.clear();
        assert_eq!(log.stats(), FaultStats::default());
    }
}
