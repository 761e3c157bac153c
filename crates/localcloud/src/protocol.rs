//! What AWS service a request is for, and how that service spells its errors.

use crate::http1::{Request, Response};

/// The region and service of a SigV4 credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub region: String,
    pub service: String,
}

/// The credential scope of a request: the `Authorization` header first, then the presigned
/// `X-Amz-Credential` query parameter. `None` for unsigned requests.
pub(crate) fn credential_scope(request: &Request) -> Option<Scope> {
    if let Some(auth) = request.header("authorization")
        && let Some(start) = auth.find("Credential=")
    {
        let rest = &auth[start + "Credential=".len()..];
        let end = rest
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(scope) = parse_scope(&rest[..end]) {
            return Some(scope);
        }
    }
    request.query().split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.eq_ignore_ascii_case("X-Amz-Credential")
            .then(|| parse_scope(&percent_decode(value)))
            .flatten()
    })
}

fn parse_scope(credential: &str) -> Option<Scope> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [.., region, service, "aws4_request"] if !region.is_empty() && !service.is_empty() => {
            Some(Scope {
                region: (*region).to_owned(),
                service: service.to_ascii_lowercase(),
            })
        }
        _ => None,
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a service spells its errors on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorShape {
    /// S3's bare `<Error>` document.
    S3,
    /// EC2's `<Response><Errors><Error>` document.
    Ec2,
    /// The query and REST-XML services (IAM, STS, RDS, CloudFormation, Route 53, ...):
    /// `<ErrorResponse><Error>`.
    Xml,
    /// The JSON services: `{"__type": ...}` with `x-amzn-ErrorType`, in this content type.
    Json(String),
    /// Plain text, for the application health endpoint and unsigned requests.
    Text,
}

/// REST-JSON services (no `X-Amz-Target`, JSON errors).
const REST_JSON: &[&str] = &[
    "lambda",
    "apigateway",
    "execute-api",
    "batch",
    "eks",
    "elasticfilesystem",
    "backup",
    "kafka",
    "appsync",
    "es",
    "aoss",
    "scheduler",
];

/// The error shape for a request of `service` (best effort, keyed on the service name and the
/// request's own protocol markers).
pub(crate) fn error_shape(service: &str, request: &Request) -> ErrorShape {
    let content_type = request.header("content-type").unwrap_or("");
    if content_type.starts_with("application/x-amz-json") {
        return ErrorShape::Json(content_type.to_owned());
    }
    if request.header("x-amz-target").is_some() {
        return ErrorShape::Json("application/x-amz-json-1.1".to_owned());
    }
    match service {
        "" | "health" => ErrorShape::Text,
        "s3" | "s3-control" => ErrorShape::S3,
        "ec2" => ErrorShape::Ec2,
        s if REST_JSON.contains(&s) => ErrorShape::Json("application/json".to_owned()),
        _ => ErrorShape::Xml,
    }
}

/// The throttling answer of a service.
pub(crate) fn throttling(shape: &ErrorShape, request_id: &str) -> Response {
    match shape {
        ErrorShape::S3 => s3_error(
            503,
            "SlowDown",
            "Please reduce your request rate.",
            request_id,
        ),
        ErrorShape::Ec2 => ec2_error(
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        ),
        ErrorShape::Xml => xml_error(400, "Sender", "Throttling", "Rate exceeded", request_id),
        ErrorShape::Json(content_type) => json_error(
            400,
            content_type,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        ErrorShape::Text => Response::text(503, "throttled by the tandem gateway\n"),
    }
}

/// The internal-error answer of a service.
pub(crate) fn internal_error(shape: &ErrorShape, request_id: &str) -> Response {
    const MESSAGE: &str = "We encountered an internal error. Please try again.";
    match shape {
        ErrorShape::S3 => s3_error(500, "InternalError", MESSAGE, request_id),
        ErrorShape::Ec2 => ec2_error(500, "InternalError", MESSAGE, request_id),
        ErrorShape::Xml => xml_error(500, "Receiver", "InternalError", MESSAGE, request_id),
        ErrorShape::Json(content_type) => {
            json_error(500, content_type, "InternalError", MESSAGE, request_id)
        }
        ErrorShape::Text => Response::text(500, "internal error injected by the tandem gateway\n"),
    }
}

fn s3_error(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>{request_id}</RequestId>\
         <HostId>{request_id}</HostId></Error>"
    );
    Response::new(status, "application/xml", body)
        .with_header("x-amz-request-id", request_id)
        .with_header("x-amz-id-2", request_id)
}

fn ec2_error(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
         <Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
    );
    Response::new(status, "text/xml", body).with_header("x-amzn-requestid", request_id)
}

fn xml_error(status: u16, kind: &str, code: &str, message: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    Response::new(status, "text/xml", body).with_header("x-amzn-requestid", request_id)
}

fn json_error(
    status: u16,
    content_type: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = serde_json::json!({ "__type": code, "message": message });
    Response::new(status, content_type, body.to_string())
        .with_header("x-amzn-errortype", code)
        .with_header("x-amzn-requestid", request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(target: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: target.into(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: Bytes::new(),
        }
    }

    #[test]
    fn scope_from_header_and_query() {
        let signed = request(
            "/",
            &[(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-west-2/rds/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            )],
        );
        assert_eq!(
            credential_scope(&signed),
            Some(Scope {
                region: "us-west-2".into(),
                service: "rds".into()
            })
        );
        let presigned = request(
            "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
            &[],
        );
        assert_eq!(credential_scope(&presigned).unwrap().service, "s3");
        assert_eq!(credential_scope(&request("/", &[])), None);
        let garbage = request(
            "/?X-Amz-Credential=%ZZ%2",
            &[("authorization", "Credential=")],
        );
        assert_eq!(credential_scope(&garbage), None);
    }

    #[test]
    fn shapes_follow_the_service() {
        let plain = request("/", &[]);
        assert_eq!(error_shape("s3", &plain), ErrorShape::S3);
        assert_eq!(error_shape("rds", &plain), ErrorShape::Xml);
        assert_eq!(error_shape("route53", &plain), ErrorShape::Xml);
        let json = request("/", &[("Content-Type", "application/x-amz-json-1.0")]);
        assert_eq!(
            error_shape("monitoring", &json),
            ErrorShape::Json("application/x-amz-json-1.0".into())
        );
        let throttled = throttling(&error_shape("rds", &plain), "id-1");
        assert_eq!(throttled.status, 400);
        let body = std::str::from_utf8(&throttled.body).unwrap();
        assert!(
            body.contains("<ErrorResponse><Error>") && body.contains("<Code>Throttling</Code>")
        );
    }
}
