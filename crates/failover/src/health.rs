//! Health probing as Route 53's checkers do it: a TCP connection within 4 s, then an HTTP status
//! of 2xx or 3xx within 2 s; a verdict flips only after `failure_threshold` consecutive results
//! that disagree with it.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How to probe, with Route 53's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeConfig {
    /// Seconds between probes: 10 or 30 in Route 53.
    pub interval: Duration,
    /// Consecutive results needed to change the verdict: 1 to 10 (default 3).
    pub failure_threshold: u32,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

impl Default for ProbeConfig {
    fn default() -> ProbeConfig {
        ProbeConfig {
            interval: Duration::from_secs(30),
            failure_threshold: 3,
            connect_timeout: Duration::from_secs(4),
            response_timeout: Duration::from_secs(2),
        }
    }
}

/// One probe's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub healthy: bool,
    pub status: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
}

/// Parses `http://host:port/path` into its parts. Only plain HTTP is probed at the HTTP level;
/// `https://` endpoints are probed by TCP connection (Route 53 does not validate certificates either).
fn parse_url(url: &str) -> Result<(bool, String, u16, String), String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(format!(
            "unsupported health URL {url:?}: expected http:// or https://"
        ));
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("bad port in {url:?}"))?,
        ),
        None => (hostport.to_string(), if https { 443 } else { 80 }),
    };
    Ok((https, host, port, path))
}

/// Probes `url` once.
pub async fn probe(url: &str, config: &ProbeConfig) -> Probe {
    let started = Instant::now();
    let fail = |error: String, status: Option<u16>| Probe {
        healthy: false,
        status,
        latency: started.elapsed(),
        error: Some(error),
    };
    let (https, host, port, path) = match parse_url(url) {
        Ok(p) => p,
        Err(e) => return fail(e, None),
    };
    let mut stream = match tokio::time::timeout(
        config.connect_timeout,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Err(_) => {
            return fail(
                format!("no TCP connection within {:?}", config.connect_timeout),
                None,
            );
        }
        Ok(Err(e)) => return fail(format!("connection failed: {e}"), None),
        Ok(Ok(s)) => s,
    };
    if https {
        return Probe {
            healthy: true,
            status: None,
            latency: started.elapsed(),
            error: None,
        };
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: tandem-health-check\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < 12 {
            let n = stream.read(&mut buf[got..]).await?;
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok::<Vec<u8>, std::io::Error>(buf[..got].to_vec())
    };
    match tokio::time::timeout(config.response_timeout, exchange).await {
        Err(_) => fail(
            format!("no response within {:?}", config.response_timeout),
            None,
        ),
        Ok(Err(e)) => fail(format!("request failed: {e}"), None),
        Ok(Ok(head)) => {
            let text = String::from_utf8_lossy(&head);
            let status = text
                .strip_prefix("HTTP/1.")
                .and_then(|r| r.get(2..5))
                .and_then(|s| s.parse::<u16>().ok());
            match status {
                Some(s) if (200..400).contains(&s) => Probe {
                    healthy: true,
                    status: Some(s),
                    latency: started.elapsed(),
                    error: None,
                },
                Some(s) => fail(format!("HTTP status {s}"), Some(s)),
                None => fail("not an HTTP response".into(), None),
            }
        }
    }
}

/// Whether a control-plane endpoint answers at all: a TCP connection within 2 s and, for plain
/// HTTP, any HTTP status line within 2 s (an API answers 4xx to a bare GET; that is an answer).
pub async fn reachable(url: &str) -> bool {
    let config = ProbeConfig {
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(2),
        ..ProbeConfig::default()
    };
    let p = probe(url, &config).await;
    p.healthy || p.status.is_some()
}

/// A checker's verdict over time: it changes after `failure_threshold` consecutive disagreeing probes.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub healthy: bool,
    streak: u32,
    threshold: u32,
}

impl Verdict {
    /// Starts healthy, as Route 53 does for a new check.
    pub fn new(threshold: u32) -> Verdict {
        Verdict {
            healthy: true,
            streak: 0,
            threshold: threshold.max(1),
        }
    }

    /// Records a probe; returns true when the verdict changed.
    pub fn record(&mut self, probe_healthy: bool) -> bool {
        if probe_healthy == self.healthy {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        if self.streak >= self.threshold {
            self.healthy = probe_healthy;
            self.streak = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_needs_threshold_consecutive_failures() {
        let mut v = Verdict::new(3);
        assert!(!v.record(false));
        assert!(!v.record(false));
        assert!(!v.record(true)); // streak broken
        assert!(!v.record(false));
        assert!(!v.record(false));
        assert!(v.record(false));
        assert!(!v.healthy);
        assert!(!v.record(true));
        assert!(!v.record(true));
        assert!(v.record(true));
        assert!(v.healthy);
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/_tandem/health").unwrap(),
            (false, "127.0.0.1".into(), 8080, "/_tandem/health".into())
        );
        assert_eq!(
            parse_url("https://x.example.com").unwrap(),
            (true, "x.example.com".into(), 443, "/".into())
        );
        assert!(parse_url("ftp://x").is_err());
    }

    #[tokio::test]
    async fn probe_sees_status_and_refusal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let cfg = ProbeConfig::default();
        let url = format!("http://127.0.0.1:{port}/health");
        let ok = probe(&url, &cfg).await;
        assert!(ok.healthy, "{ok:?}");
        assert_eq!(ok.status, Some(200));
        let bad = probe(&url, &cfg).await;
        assert!(!bad.healthy);
        assert_eq!(bad.status, Some(503));
        // Nothing listens any more: refused.
        let gone = probe(&url, &cfg).await;
        assert!(!gone.healthy);
        assert!(gone.error.unwrap().contains("connection failed"));
    }
}
