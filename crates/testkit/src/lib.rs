//! Test support: a local cloud (moto in server mode) for integration tests.
//!
//! The principal type is [`Moto`], a running `moto_server` on a free loopback port. [`moto()`] gives
//! the one instance shared by a test binary; [`Moto::start`] starts a private one (for tests that
//! flip moto's global switches, such as [`Moto::set_auth_denied`]).
//!
//! # Guarantees
//! - No moto process outlives the test binary: each runs under a small `sh` watchdog that kills it
//!   once the test process is gone (statics are never dropped), and a private instance is killed
//!   when its [`Moto`] is dropped.
//! - Nothing here changes the process environment: [`TEST_ACCESS_KEY_ID`] and
//!   [`TEST_SECRET_ACCESS_KEY`] are meant to be passed explicitly into the SDK configuration.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The access key id moto accepts (any is accepted; this is the conventional one).
pub const TEST_ACCESS_KEY_ID: &str = "testing";
/// The secret access key paired with [`TEST_ACCESS_KEY_ID`].
pub const TEST_SECRET_ACCESS_KEY: &str = "testing";
/// The account id moto always reports.
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

/// The environment variables an SDK would read for test credentials, for subprocesses (boto3).
pub fn test_credentials_env() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY),
        ("AWS_SESSION_TOKEN", "testing"),
    ]
}

/// A running moto server.
pub struct Moto {
    port: u16,
    watchdog: Option<Child>,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto").field("port", &self.port).finish()
    }
}

static SHARED: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The moto server shared by every test in this binary, started on first use.
///
/// # Panics
/// When moto cannot be found or started: the message says how to install it.
pub fn moto() -> &'static Moto {
    match SHARED.get_or_init(|| Moto::start().map_err(|e| e.to_string())) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// Why moto could not be started.
#[derive(Debug)]
pub enum MotoError {
    NotInstalled,
    Spawn(std::io::Error),
    NotAnswering(u16, Duration),
}

impl std::fmt::Display for MotoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MotoError::NotInstalled => write!(
                f,
                "moto is not installed (neither `moto_server` on PATH nor `python3 -m moto.server`): \
                 run `pip install 'moto[server]==5.2.*'`"
            ),
            MotoError::Spawn(e) => write!(f, "could not start moto: {e}"),
            MotoError::NotAnswering(port, d) => {
                write!(f, "moto on port {port} did not answer within {d:?}")
            }
        }
    }
}

impl std::error::Error for MotoError {}

/// How to run moto: the command line before `-H HOST -p PORT`.
fn moto_command() -> Result<Vec<String>, MotoError> {
    if let Some(path) = find_on_path("moto_server") {
        return Ok(vec![path.to_string_lossy().into_owned()]);
    }
    let has_module = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_module {
        return Ok(vec!["python3".into(), "-m".into(), "moto.server".into()]);
    }
    Err(MotoError::NotInstalled)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, MotoError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(MotoError::Spawn)?;
    let port = listener.local_addr().map_err(MotoError::Spawn)?.port();
    Ok(port)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Moto {
    /// Starts a new moto server on a free port and waits until it answers.
    pub fn start() -> Result<Moto, MotoError> {
        let cmd = moto_command()?;
        let mut last = MotoError::NotAnswering(0, Duration::ZERO);
        // A port found free can be taken before moto binds it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let mut moto = Moto::spawn(&cmd, port)?;
            match moto.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return Ok(moto),
                Err(e) => {
                    moto.stop();
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn spawn(cmd: &[String], port: u16) -> Result<Moto, MotoError> {
        let moto_cmd: Vec<String> = cmd.iter().map(|c| shell_quote(c)).collect();
        // The watchdog: start moto, then poll every 0.5 s; when the test process (or moto) is
        // gone, or the watchdog is told to stop, kill moto.
        let script = format!(
            "{moto} -H 127.0.0.1 -p {port} >/dev/null 2>&1 &\n\
             m=$!\n\
             trap 'kill $m 2>/dev/null; exit 0' TERM INT HUP\n\
             while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done\n\
             kill $m 2>/dev/null\n\
             wait $m 2>/dev/null\n",
            moto = moto_cmd.join(" "),
            parent = std::process::id(),
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        Ok(Moto {
            port,
            watchdog: Some(child),
        })
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), MotoError> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(w) = self.watchdog.as_mut() {
                if let Ok(Some(_)) = w.try_wait() {
                    return Err(MotoError::NotAnswering(self.port, start.elapsed()));
                }
            }
            if self.request("GET", "/moto-api/", "").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MotoError::NotAnswering(self.port, within))
    }

    fn stop(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            // SIGTERM to the watchdog kills moto through its trap.
            let _ = Command::new("kill")
                .args(["-TERM", &w.id().to_string()])
                .status();
            let _ = w.wait();
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Turns moto's global authorization switch: `true` makes every call answer 403 (`reset-auth`
    /// with `0`), `false` restores normal service (`inf`). It affects every test using this server.
    pub fn set_auth_denied(&self, denied: bool) -> std::io::Result<()> {
        let body = if denied { "0" } else { "inf" };
        self.request("POST", "/moto-api/reset-auth", body)
            .map(|_| ())
    }

    /// Wipes all of moto's state.
    pub fn reset(&self) -> std::io::Result<()> {
        self.request("POST", "/moto-api/reset", "").map(|_| ())
    }

    /// A minimal HTTP/1.1 request to moto; returns the status code and body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Content-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("malformed HTTP response from moto"))?;
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A name unique to this process and call, for resources shared in one moto: `prefix-PID-N`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{:04x}", std::process::id(), nanos & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_moto_starts_answers_and_stops() {
        let m = Moto::start().expect("moto starts");
        let (status, _) = m.request("GET", "/moto-api/", "").unwrap();
        assert_eq!(status, 200);
        let port = m.port();
        drop(m);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "moto still listening after drop"
        );
    }
}
