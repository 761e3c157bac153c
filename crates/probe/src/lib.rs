//! HTTP(S) health probes as Route 53's health checkers make them.
//!
//! [`probe`] judges one URL once, with the checker's rules: a TCP connection within
//! [`ProbeConfig::connect_timeout`] (4 s), then an HTTP status of 2xx or 3xx within
//! [`ProbeConfig::response_timeout`] (2 s) of connecting. For `https://` URLs the TLS handshake
//! must succeed inside that response deadline, but the certificate is **not** validated (expired,
//! self-signed or issued for another name, it is accepted), as Route 53 does not validate it
//! either. Anything else is unhealthy. The result is a [`Probe`]: the verdict, the status if one
//! was received, the latency, a short error naming what failed, and whether TLS was established.
//!
//! [`reachable`] asks a looser question of a control-plane endpoint: does it answer at all
//! (any HTTP status within 2 s; an API answering 403 to a bare `GET` is answering)?
//!
//! The client is hyper's HTTP/1.1 connection API over a `tokio` TCP stream, or over a
//! `tokio-rustls` stream with the aws-lc-rs provider: the crates the AWS SDK already builds.
//! A probe opens one connection, sends `GET` with `Host`, `User-Agent: tandem-health-check` and
//! `Connection: close`, reads the status line and headers, and closes: the body is not read.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The `User-Agent` every probe sends.
pub const USER_AGENT_VALUE: &str = "tandem-health-check";

/// A probe's deadlines. [`Default`] gives Route 53's: 4 s to connect, then 2 s for the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time allowed to establish the TCP connection (name resolution included).
    pub connect_timeout: Duration,
    /// Time allowed, from the moment the TCP connection is established, for the TLS handshake
    /// (`https://`), sending the request and receiving the status line and headers.
    pub response_timeout: Duration,
}

impl ProbeConfig {
    /// Route 53's checker deadlines.
    pub const ROUTE53: ProbeConfig = ProbeConfig {
        connect_timeout: Duration::from_secs(4),
        response_timeout: Duration::from_secs(2),
    };
}

impl Default for ProbeConfig {
    fn default() -> ProbeConfig {
        ProbeConfig::ROUTE53
    }
}

/// One probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// A status of 2xx or 3xx was received within the deadlines.
    pub healthy: bool,
    /// The HTTP status received, whatever it was; `None` when no response arrived.
    pub status: Option<u16>,
    /// From the start of the probe (before name resolution) to its outcome.
    pub latency: Duration,
    /// What failed, as a short lowercase fragment (`"HTTP status 503"`, `"no response within
    /// 2s"`, `"TLS handshake failed: ..."`); `None` when healthy.
    pub error: Option<String>,
    /// A TLS session was established (only for `https://` URLs; false when the handshake failed).
    pub tls: bool,
}

/// Probes `url` (`http://` or `https://`) once, as a Route 53 checker would.
pub async fn probe(url: &str, config: &ProbeConfig) -> Probe {
    let started = Instant::now();
    let mut tls = false;
    let outcome = attempt(url, config, &mut tls).await;
    let latency = started.elapsed();
    match outcome {
        Ok(status) if (200..400).contains(&status) => Probe {
            healthy: true,
            status: Some(status),
            latency,
            error: None,
            tls,
        },
        Ok(status) => Probe {
            healthy: false,
            status: Some(status),
            latency,
            error: Some(format!("HTTP status {status}")),
            tls,
        },
        Err(error) => Probe {
            healthy: false,
            status: None,
            latency,
            error: Some(error),
            tls,
        },
    }
}

/// Whether a control-plane endpoint answers at all: a TCP connection within 2 s, then any HTTP
/// status line within 2 s (an API answers 4xx or 5xx to a bare `GET`: that is an answer). Over
/// TLS for `https://` URLs, the certificate not validated.
pub async fn reachable(url: &str) -> bool {
    let config = ProbeConfig {
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(2),
    };
    probe(url, &config).await.status.is_some()
}

/// Connects, then exchanges within the response deadline; returns the status received.
/// `tls` is set once a TLS session is established.
async fn attempt(url: &str, config: &ProbeConfig, tls: &mut bool) -> Result<u16, String> {
    let target = Target::parse(url)?;
    let tcp = match tokio::time::timeout(
        config.connect_timeout,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    {
        Err(_) => {
            return Err(format!(
                "no TCP connection within {:?}",
                config.connect_timeout
            ));
        }
        Ok(Err(e)) => return Err(format!("TCP connection failed: {e}")),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    let exchange = async {
        if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| format!("invalid TLS server name {:?}: {e}", target.host))?;
            let stream = TlsConnector::from(client_config())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {}", describe(&e)))?;
            *tls = true;
            request(stream, &target).await
        } else {
            request(tcp, &target).await
        }
    };
    match tokio::time::timeout(config.response_timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) if target.https && !*tls => Err(format!(
            "no TLS handshake within {:?}",
            config.response_timeout
        )),
        Err(_) => Err(format!("no response within {:?}", config.response_timeout)),
    }
}

/// Sends the `GET` over `io` and waits for the response head; returns its status.
async fn request<S>(io: S, target: &Target) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        // `Host`, not `host`: some minimal health endpoints match header names
        // case-sensitively, and most clients send them title-cased.
        .title_case_headers(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {}", describe(&e)))?;
    let request = Request::get(target.path.as_str())
        .header(HOST, target.host_header.as_str())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(CONNECTION, "close")
        .body(Empty::new())
        .map_err(|e| format!("invalid request for {:?}: {e}", target.path))?;
    // The connection is driven here rather than spawned, so that dropping this future (the
    // response deadline) closes the socket.
    let mut send = Box::pin(sender.send_request(request));
    let mut conn = Box::pin(conn);
    let response = tokio::select! {
        biased;
        response = &mut send => response,
        _ = &mut conn => {
            // The connection ended (closed or failed) before the response was delivered;
            // dropping it hands the request its error.
            drop(conn);
            send.await
        }
    };
    match response {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!("HTTP request failed: {}", describe(&e))),
    }
}

/// An error and its sources, joined by `": "`.
fn describe(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A health URL's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    https: bool,
    /// Host name or IP address to connect to (an IPv6 address without its brackets).
    host: String,
    port: u16,
    /// The request target: path and query, at least `/`.
    path: String,
    /// The `Host` header: the host (IPv6 in brackets), with `:port` unless it is the scheme's
    /// default, as Route 53 builds it.
    host_header: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let unsupported =
            |why: &dyn std::fmt::Display| format!("unsupported health URL {url:?}: {why}");
        // A fragment is never sent.
        let without_fragment = url.split('#').next().unwrap_or_default();
        let uri: hyper::Uri = without_fragment
            .parse()
            .map_err(|e| unsupported(&format_args!("{e}")))?;
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(unsupported(&"expected http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| unsupported(&"no host"))?;
        let bracketed = authority.host();
        let host = bracketed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(bracketed);
        if host.is_empty() {
            return Err(unsupported(&"no host"));
        }
        if bracketed.starts_with('[') && host.parse::<IpAddr>().is_err() {
            return Err(unsupported(&"bad IPv6 address"));
        }
        let default_port = if https { 443 } else { 80 };
        // `Authority::port` ignores a port that is not a u16; read it here instead.
        let host_and_port = authority.as_str().rsplit('@').next().unwrap_or_default();
        let port = match host_and_port[bracketed.len()..].strip_prefix(':') {
            None | Some("") => default_port,
            Some(p) => p.parse::<u16>().map_err(|_| unsupported(&"bad port"))?,
        };
        let path = match uri.path_and_query().map(|p| p.as_str()).unwrap_or("") {
            "" => "/".to_string(),
            p if p.starts_with('/') => p.to_string(),
            p => format!("/{p}"),
        };
        let host_header = if port == default_port {
            bracketed.to_string()
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(Target {
            https,
            host: host.to_string(),
            port,
            path,
            host_header,
        })
    }
}

/// The TLS client configuration, built once: the aws-lc-rs provider, TLS 1.2 and 1.3, and a
/// verifier that accepts any certificate.
fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = Arc::new(AcceptAnyCertificate::new(&provider));
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the aws-lc-rs provider supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Accepts any server certificate — expired, self-signed, issued for another name or by an
/// unknown authority — because Route 53's HTTPS health checks do not validate certificates: an
/// endpoint behind a certificate Route 53 would accept must not be judged unhealthy here. The
/// handshake itself is still verified: the server must prove, with the provider's signature
/// algorithms, that it holds the key of the certificate it presents, so a TLS session is real.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCertificate {
    fn new(provider: &CryptoProvider) -> AcceptAnyCertificate {
        AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn default_ports_and_path() {
        let t = target("http://x.example.com");
        assert_eq!(
            t,
            Target {
                https: false,
                host: "x.example.com".into(),
                port: 80,
                path: "/".into(),
                host_header: "x.example.com".into(),
            }
        );
        let t = target("https://x.example.com");
        assert_eq!((t.https, t.port, t.path.as_str()), (true, 443, "/"));
        assert_eq!(t.host_header, "x.example.com");
        // An explicit default port is the default port: no `:443` in the Host header.
        assert_eq!(
            target("https://x.example.com:443/").host_header,
            "x.example.com"
        );
    }

    #[test]
    fn explicit_port_path_and_query() {
        let t = target("http://127.0.0.1:8080/_tandem/health?deep=1#frag");
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, 8080);
        assert_eq!(t.path, "/_tandem/health?deep=1");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(target("http://h?x=1").path, "/?x=1");
        assert_eq!(target("HTTPS://h/").port, 443);
        // Credentials are not sent.
        let t = target("http://user:pw@h:81/");
        assert_eq!((t.host.as_str(), t.port), ("h", 81));
        assert_eq!(t.host_header, "h:81");
    }

    #[test]
    fn ipv6_literals() {
        let t = target("http://[::1]:8080/health");
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 8080);
        assert_eq!(t.host_header, "[::1]:8080");
        let t = target("https://[2001:db8::1]");
        assert_eq!((t.host.as_str(), t.port), ("2001:db8::1", 443));
        assert_eq!(t.host_header, "[2001:db8::1]");
    }

    #[test]
    fn bad_urls_are_errors() {
        for url in [
            "ftp://x/",
            "x.example.com/health",
            "/health",
            "",
            "http://",
            "http://x:99999/",
            "http://x:port/",
            "http://[nonsense]/",
        ] {
            let e = Target::parse(url).expect_err(url);
            assert!(e.starts_with("unsupported health URL"), "{url}: {e}");
        }
    }

    #[test]
    fn default_config_is_route53s() {
        let c = ProbeConfig::default();
        assert_eq!(c.connect_timeout, Duration::from_secs(4));
        assert_eq!(c.response_timeout, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_bad_url_is_an_unhealthy_probe() {
        let p = probe("ftp://x/", &ProbeConfig::default()).await;
        assert!(!p.healthy);
        assert_eq!(p.status, None);
        assert!(p.error.unwrap().starts_with("unsupported health URL"));
        assert!(!reachable("gopher://x/").await);
    }
}
