//! Probes against local servers: plain HTTP and TLS (self-signed and expired certificates, see
//! `tests/fixtures/README.md`), servers that answer each status, refuse, or never answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tandem_probe::{Probe, ProbeConfig, probe, reachable};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const CERT: &[u8] = include_bytes!("fixtures/cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/key.pem");
const EXPIRED_CERT: &[u8] = include_bytes!("fixtures/expired-cert.pem");
const EXPIRED_KEY: &[u8] = include_bytes!("fixtures/expired-key.pem");

/// Short deadlines so that the tests of timeouts stay fast.
const SHORT: ProbeConfig = ProbeConfig {
    connect_timeout: Duration::from_millis(300),
    response_timeout: Duration::from_millis(300),
};

fn acceptor(cert: &[u8], key: &[u8]) -> TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// How the test server treats each connection.
#[derive(Clone)]
enum Behaviour {
    /// Reads the request head, answers with this status line and no body, closes.
    Answer(&'static str),
    /// As `Answer`, after a TLS handshake.
    TlsAnswer(TlsAcceptor, &'static str),
    /// Reads the request head, writes these bytes, closes.
    Raw(&'static [u8]),
    /// Accepts the TCP connection and never sends a byte.
    Silent,
}

/// A server on a free loopback port; it records each request head it reads.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let behaviour = behaviour.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    match behaviour {
                        Behaviour::Answer(status) => answer(tcp, status, &seen).await,
                        Behaviour::Raw(bytes) => respond(tcp, bytes, &seen).await,
                        Behaviour::TlsAnswer(acceptor, status) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                answer(tls, status, &seen).await;
                            }
                        }
                        Behaviour::Silent => {
                            let _held = tcp;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                    }
                });
            }
        });
        Server { port, requests }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers `HTTP/1.1 {status}` with an empty body.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(s: S, status: &str, seen: &Mutex<Vec<String>>) {
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    respond(s, response.as_bytes(), seen).await;
}

/// Reads up to the end of the request head, records it, then writes `response` and closes. Like
/// a real HTTP server, it answers at once what cannot be an HTTP request (a TLS ClientHello starts
/// with the byte 0x16), rather than wait for a head that will never come.
async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    response: &[u8],
    seen: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n")
        && head.first().is_none_or(u8::is_ascii_uppercase)
    {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    let _ = s.write_all(response).await;
    let _ = s.shutdown().await;
}

/// A loopback port with nothing listening on it.
async fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_unhealthy(p: &Probe, error_contains: &str) {
    assert!(!p.healthy, "{p:?}");
    let error = p
        .error
        .as_deref()
        .unwrap_or_else(|| panic!("no error: {p:?}"));
    assert!(
        error.contains(error_contains),
        "{error_contains:?} not in {p:?}"
    );
}

// ---- plain HTTP ----

#[tokio::test]
async fn http_200_is_healthy_and_the_request_is_routes53s() {
    let server = Server::start(Behaviour::Answer("200 OK")).await;
    let p = probe(
        &server.url("http", "/_tandem/health?x=1"),
        &ProbeConfig::default(),
    )
    .await;
    assert!(p.healthy, "{p:?}");
    assert_eq!(p.status, Some(200));
    assert_eq!(p.error, None);
    assert!(!p.tls);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let head = &requests[0];
    assert!(
        head.starts_with("GET /_tandem/health?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    let port = server.port;
    for header in [
        format!("Host: 127.0.0.1:{port}\r\n"),
        "User-Agent: tandem-health-check\r\n".to_string(),
        "Connection: close\r\n".to_string(),
    ] {
        assert!(head.contains(&header), "{header:?} not in {head:?}");
    }
}

#[tokio::test]
async fn http_302_is_healthy() {
    let server = Server::start(Behaviour::Answer("302 Found")).await;
    let p = probe(&server.url("http", "/"), &ProbeConfig::default()).await;
    assert!(p.healthy, "{p:?}");
    assert_eq!(p.status, Some(302));
}

#[tokio::test]
async fn http_503_is_unhealthy_with_its_status() {
    let server = Server::start(Behaviour::Answer("503 Service Unavailable")).await;
    let p = probe(&server.url("http", "/"), &ProbeConfig::default()).await;
    assert_unhealthy(&p, "HTTP status 503");
    assert_eq!(p.status, Some(503));
    // 4xx too: Route 53 wants 2xx or 3xx.
    let server = Server::start(Behaviour::Answer("404 Not Found")).await;
    let p = probe(&server.url("http", "/"), &ProbeConfig::default()).await;
    assert_unhealthy(&p, "HTTP status 404");
}

#[tokio::test]
async fn refused_connection_is_unhealthy() {
    let port = refused_port().await;
    let p = probe(
        &format!("http://127.0.0.1:{port}/"),
        &ProbeConfig::default(),
    )
    .await;
    assert_unhealthy(&p, "TCP connection failed");
    assert_eq!(p.status, None);
}

/// A listener whose accept queue is full: Linux then drops new SYNs, so a connection attempt
/// hangs (the client retransmits) instead of being refused.
#[tokio::test]
async fn no_tcp_connection_within_the_connect_timeout_is_unhealthy() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    let mut saturated = false;
    for _ in 0..16 {
        let attempt = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), attempt).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => {
                saturated = true;
                break;
            }
        }
    }
    if !saturated {
        eprintln!("this system accepts connections beyond the backlog: skipped");
        return;
    }
    let started = Instant::now();
    let p = probe(&format!("http://{addr}/"), &SHORT).await;
    let elapsed = started.elapsed();
    assert_unhealthy(&p, "no TCP connection within 300ms");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    drop(listener);
}

#[tokio::test]
async fn a_server_that_never_answers_is_unhealthy_at_the_response_deadline() {
    let server = Server::start(Behaviour::Silent).await;
    let started = Instant::now();
    let p = probe(&server.url("http", "/"), &SHORT).await;
    let elapsed = started.elapsed();
    assert_unhealthy(&p, "no response within 300ms");
    assert_eq!(p.status, None);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn garbage_instead_of_http_is_unhealthy() {
    let server = Server::start(Behaviour::Raw(b"SSH-2.0-OpenSSH_9.6\r\n")).await;
    let p = probe(&server.url("http", "/"), &SHORT).await;
    assert_unhealthy(&p, "HTTP request failed");
    assert_eq!(p.status, None);
}

// ---- HTTPS ----

#[tokio::test]
async fn https_200_with_a_self_signed_certificate_is_healthy() {
    // The certificate is self-signed, for `localhost`, and the URL names 127.0.0.1: Route 53
    // validates none of this, and neither does the probe.
    let server = Server::start(Behaviour::TlsAnswer(acceptor(CERT, KEY), "200 OK")).await;
    let p = probe(&server.url("https", "/health"), &ProbeConfig::default()).await;
    assert!(p.healthy, "{p:?}");
    assert_eq!(p.status, Some(200));
    assert!(p.tls);
    let requests = server.requests();
    assert!(
        requests[0].starts_with("GET /health HTTP/1.1\r\n"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn https_with_an_expired_certificate_is_healthy() {
    let server = Server::start(Behaviour::TlsAnswer(
        acceptor(EXPIRED_CERT, EXPIRED_KEY),
        "200 OK",
    ))
    .await;
    let p = probe(&server.url("https", "/"), &ProbeConfig::default()).await;
    assert!(p.healthy, "{p:?}");
    assert!(p.tls);
}

#[tokio::test]
async fn https_503_is_unhealthy_with_its_status() {
    let server = Server::start(Behaviour::TlsAnswer(
        acceptor(CERT, KEY),
        "503 Service Unavailable",
    ))
    .await;
    let p = probe(&server.url("https", "/"), &ProbeConfig::default()).await;
    assert_unhealthy(&p, "HTTP status 503");
    assert_eq!(p.status, Some(503));
    assert!(p.tls);
}

/// The bug this crate fixes: an `https://` URL was judged on the TCP connection alone, so a
/// plain-HTTP listener answering 503 was "healthy".
#[tokio::test]
async fn https_url_at_a_plain_http_server_answering_503_is_unhealthy() {
    let server = Server::start(Behaviour::Answer("503 Service Unavailable")).await;
    let p = probe(&server.url("https", "/"), &ProbeConfig::default()).await;
    assert_unhealthy(&p, "TLS handshake failed");
    assert_eq!(p.status, None);
    assert!(!p.tls);
}

#[tokio::test]
async fn https_url_at_a_plain_http_server_answering_200_is_unhealthy() {
    let server = Server::start(Behaviour::Answer("200 OK")).await;
    let p = probe(&server.url("https", "/"), &ProbeConfig::default()).await;
    assert_unhealthy(&p, "TLS handshake failed");
    assert!(!p.tls);
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_is_bounded_by_the_response_deadline() {
    let server = Server::start(Behaviour::Silent).await;
    let started = Instant::now();
    let p = probe(&server.url("https", "/"), &SHORT).await;
    let elapsed = started.elapsed();
    assert_unhealthy(&p, "no TLS handshake within 300ms");
    assert!(!p.tls);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn https_refused_is_unhealthy() {
    let port = refused_port().await;
    let p = probe(
        &format!("https://127.0.0.1:{port}/"),
        &ProbeConfig::default(),
    )
    .await;
    assert_unhealthy(&p, "TCP connection failed");
}

// ---- reachable ----

#[tokio::test]
async fn reachable_when_any_status_answers() {
    let server = Server::start(Behaviour::Answer("403 Forbidden")).await;
    assert!(reachable(&server.url("http", "/")).await);
    let server = Server::start(Behaviour::Answer("500 Internal Server Error")).await;
    assert!(reachable(&server.url("http", "/")).await);
    let server = Server::start(Behaviour::TlsAnswer(acceptor(CERT, KEY), "403 Forbidden")).await;
    assert!(reachable(&server.url("https", "/")).await);
}

#[tokio::test]
async fn not_reachable_when_refused_or_not_speaking_tls() {
    let port = refused_port().await;
    assert!(!reachable(&format!("http://127.0.0.1:{port}/")).await);
    // An https URL answered without TLS is not the control plane answering.
    let server = Server::start(Behaviour::Answer("403 Forbidden")).await;
    assert!(!reachable(&server.url("https", "/")).await);
}

// ---- IPv6 ----

#[tokio::test]
async fn ipv6_literal() {
    // Skipped where the loopback has no IPv6.
    let Ok(listener) = TcpListener::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback: skipped");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let head = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let seen = Mutex::new(Vec::new());
        answer(s, "200 OK", &seen).await;
        seen.into_inner().unwrap().remove(0)
    });
    let p = probe(&format!("http://[::1]:{port}/v6"), &ProbeConfig::default()).await;
    assert!(p.healthy, "{p:?}");
    let head = head.await.unwrap();
    assert!(head.contains(&format!("Host: [::1]:{port}\r\n")), "{head}");
}
