//! Whether a region's simulated application has capacity: the desired capacity of the region's
//! Auto Scaling groups, read from moto when the health endpoint is asked.
//!
//! On AWS a load balancer with no registered targets is unhealthy to Route 53; locally there are
//! no instances to serve, so the health endpoint stands for them: the region serves while at least
//! one of its Auto Scaling groups has a desired capacity above 0.
//!
//! moto is asked directly (not through the gateway, whose faults are the caller's business) with
//! the query protocol's `DescribeAutoScalingGroups`, under a SigV4-shaped `Authorization` whose
//! credential scope names the region (moto picks the region from it and checks no signature). The
//! access key is no IAM key of moto's, so moto answers for its default account, `123456789012`,
//! the account the local environment names. Every page is read (`NextToken`) until a group with
//! capacity turns up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// The access key of the gateway's own requests to moto (any non-IAM key means the default
/// account).
const ACCESS_KEY: &str = "tandem-gateway";

/// Groups per page: the most `DescribeAutoScalingGroups` allows (moto fails above it).
const PAGE_SIZE: u32 = 100;

/// Pages read at most (100 000 groups): a guard against a server that never stops paginating.
const MAX_PAGES: usize = 1000;

/// What a region's Auto Scaling groups give its application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capacity {
    /// At least one group has a desired capacity above 0.
    Serving,
    /// The region has no Auto Scaling group.
    NoGroup,
    /// The region has `groups` groups, each with a desired capacity of 0.
    AllZero { groups: usize },
}

/// The capacity of `region` as moto at `moto_base` (`http://HOST:PORT`) sees it now, within
/// `within` for all pages together.
///
/// # Errors
/// Why the capacity could not be read: moto unreachable, too slow, or answering with an error or
/// with something that is not a `DescribeAutoScalingGroups` result.
pub(crate) async fn region_capacity(
    client: &Client<HttpConnector, Full<Bytes>>,
    moto_base: &str,
    region: &str,
    within: Duration,
) -> Result<Capacity, String> {
    let read = async {
        let mut groups = 0;
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = describe_page(client, moto_base, region, token.as_deref()).await?;
            if page.desired.iter().any(|desired| *desired > 0) {
                return Ok(Capacity::Serving);
            }
            groups += page.desired.len();
            match page.next_token {
                None => {
                    return Ok(if groups == 0 {
                        Capacity::NoGroup
                    } else {
                        Capacity::AllZero { groups }
                    });
                }
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(format!("moto answered the NextToken {next:?} twice"));
                }
                Some(next) => token = Some(next),
            }
        }
        Err(format!(
            "more than {MAX_PAGES} pages of Auto Scaling groups"
        ))
    };
    match tokio::time::timeout(within, read).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
    }
}

/// One page of `DescribeAutoScalingGroups`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    /// The desired capacity of each group of the page.
    desired: Vec<u64>,
    next_token: Option<String>,
}

async fn describe_page(
    client: &Client<HttpConnector, Full<Bytes>>,
    moto_base: &str,
    region: &str,
    token: Option<&str>,
) -> Result<Page, String> {
    let mut form =
        format!("Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords={PAGE_SIZE}");
    if let Some(token) = token {
        form.push_str("&NextToken=");
        form.push_str(&form_encode(token));
    }
    let (date, timestamp) = amz_date(SystemTime::now());
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("{moto_base}/"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("x-amz-date", &timestamp)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{date}/{region}/autoscaling/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature={}",
                "0".repeat(64)
            ),
        )
        .header("content-length", form.len())
        .body(Full::new(Bytes::from(form)))
        .map_err(|err| format!("cannot build the request: {err}"))?;
    let response = client
        .request(request)
        .await
        .map_err(|err| format!("cannot reach moto: {}", error_chain(&err)))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| format!("moto's answer broke off: {err}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(format!(
            "moto answered {} to DescribeAutoScalingGroups: {}",
            status.as_u16(),
            error_summary(&text)
        ));
    }
    parse_page(&text)
}

/// The desired capacities and the next token of a `DescribeAutoScalingGroups` answer.
///
/// A scan, not an XML parser, and still exact: in XML text and attribute values `<` is always
/// escaped, so `<DesiredCapacity>` can only be that element's start tag (`DesiredCapacityType`
/// has its own name), and each group has exactly one; `NextToken` only appears in the result.
fn parse_page(xml: &str) -> Result<Page, String> {
    if !xml.contains("<DescribeAutoScalingGroupsResult") {
        return Err(format!(
            "moto's answer is not a DescribeAutoScalingGroups result: {}",
            error_summary(xml)
        ));
    }
    let desired = elements(xml, "DesiredCapacity")
        .map(|text| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("moto answered a DesiredCapacity of {text:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next_token = elements(xml, "NextToken")
        .next()
        .map(xml_unescape)
        .filter(|token| !token.is_empty());
    Ok(Page {
        desired,
        next_token,
    })
}

/// The text of every `<name>...</name>` element (an empty `<name/>` has none).
fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(text)
    })
}

/// Resolves the five predefined entities and character references.
fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `application/x-www-form-urlencoded` for a value: unreserved characters as they are, every other
/// byte as `%XX`.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An error answer in one short line: the `<Message>` of an AWS error document, else the start of
/// the text with its whitespace collapsed.
fn error_summary(text: &str) -> String {
    if let Some(message) = elements(text, "Message").next() {
        return xml_unescape(message.trim());
    }
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "an empty body".to_owned();
    }
    let mut end = flat.len().min(200);
    while !flat.is_char_boundary(end) {
        end -= 1;
    }
    if end < flat.len() {
        format!("{}...", &flat[..end])
    } else {
        flat
    }
}

/// An error and its sources, `: `-separated (hyper's own message alone says little).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The SigV4 date (`YYYYMMDD`) and timestamp (`YYYYMMDDTHHMMSSZ`, UTC) of `now`.
fn amz_date(now: SystemTime) -> (String, String) {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let timestamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    (date, timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, desired: &str) -> String {
        format!(
            "<member><AutoScalingGroupName>{name}</AutoScalingGroupName><MinSize>0</MinSize>\
             <DesiredCapacity>{desired}</DesiredCapacity><DesiredCapacityType>units\
             </DesiredCapacityType><Instances/></member>"
        )
    }

    fn answer(groups: &[String], next: Option<&str>) -> String {
        let members = if groups.is_empty() {
            "<AutoScalingGroups/>".to_owned()
        } else {
            format!("<AutoScalingGroups>{}</AutoScalingGroups>", groups.concat())
        };
        let next = next.map_or(String::new(), |t| format!("<NextToken>{t}</NextToken>"));
        format!(
            "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
             <DescribeAutoScalingGroupsResult>{members}{next}</DescribeAutoScalingGroupsResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
             </DescribeAutoScalingGroupsResponse>"
        )
    }

    #[test]
    fn pages_give_each_groups_desired_capacity_and_the_next_token() {
        assert_eq!(
            parse_page(&answer(&[], None)).unwrap(),
            Page {
                desired: vec![],
                next_token: None
            }
        );
        let two = answer(&[group("a", "0"), group("b&amp;c", " 3 ")], Some("b&amp;c"));
        assert_eq!(
            parse_page(&two).unwrap(),
            Page {
                desired: vec![0, 3],
                next_token: Some("b&c".into())
            }
        );
        // An empty token is no token.
        let empty = answer(&[group("a", "1")], Some(""));
        assert_eq!(parse_page(&empty).unwrap().next_token, None);
    }

    #[test]
    fn what_is_not_a_result_is_an_error() {
        let error = "<ErrorResponse><Error><Code>ValidationError</Code>\
                     <Message>1 validation error &amp; more</Message></Error></ErrorResponse>";
        let err = parse_page(error).unwrap_err();
        assert!(err.contains("1 validation error & more"), "{err}");
        let html = "<!doctype html>\n<title>500 Internal   Server Error</title>";
        assert!(
            parse_page(html)
                .unwrap_err()
                .contains("<title>500 Internal Server Error</title>")
        );
        let bad = answer(&[group("a", "lots")], None);
        assert!(parse_page(&bad).unwrap_err().contains("\"lots\""));
        assert_eq!(error_summary(""), "an empty body");
        let long = "é".repeat(300);
        assert!(error_summary(&long).ends_with("..."));
    }

    #[test]
    fn entities_and_form_encoding() {
        assert_eq!(
            xml_unescape("a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x42;&bogus;&"),
            "a&b<c>\"'AB&bogus;&"
        );
        assert_eq!(form_encode("my group/1&x=é"), "my%20group%2F1%26x%3D%C3%A9");
    }

    #[test]
    fn sigv4_dates_are_utc_calendar_dates() {
        let at = |secs: u64| amz_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), ("19700101".into(), "19700101T000000Z".into()));
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(
            at(1_709_251_199),
            ("20240229".into(), "20240229T235959Z".into())
        );
        // 2026-01-01T12:34:56Z.
        assert_eq!(
            at(1_767_270_896),
            ("20260101".into(), "20260101T123456Z".into())
        );
    }
}
