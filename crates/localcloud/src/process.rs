//! Background processes: start detached, check, stop. Unix only (`libc`).

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_engine::store::open_private;

use crate::error::{Error, Result};

/// Starts `program args...` in a new session (no controlling terminal, not in the caller's process
/// group), stdin from /dev/null, stdout and stderr appended to `log`.
pub(crate) fn spawn_detached<S: AsRef<OsStr>>(
    program: &OsStr,
    args: &[S],
    log: &Path,
) -> Result<Child> {
    let open_log = || {
        open_private(log, OpenOptions::new().create(true).append(true))
            .map_err(|source| Error::io(log, source))
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(open_log()?)
        .stderr(open_log()?);
    // SAFETY: the closure runs in the forked child before exec and calls only setsid(2), which is
    // async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().map_err(|source| Error::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })
}

/// A pid that is safe to signal: never 0, 1 or a negative (group or "all processes") value.
fn pid_t(pid: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(pid).ok().filter(|p| *p > 1)
}

/// Whether `pid` is a live process (zombies count as dead; our own zombie children are reaped).
pub(crate) fn alive(pid: u32) -> bool {
    let Some(pid) = pid_t(pid) else {
        return false;
    };
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG only reaps `pid` if it is our exited child; `status` is a
    // valid out-pointer.
    if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
        return false;
    }
    // SAFETY: signal 0 checks existence and permission, it delivers nothing.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            after_name
                .split_whitespace()
                .next()
                .map(|state| state == "Z")
        })
        .unwrap_or(false)
}

/// Whether the live process `pid` still runs the program we started (its command line contains
/// `hint`), so a recycled pid is never signalled. Without `/proc` the answer is yes.
pub(crate) fn runs(pid: u32, hint: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(hint),
        Err(_) => true,
    }
}

/// Sends `signal` to `pid`'s process group when it leads one (as the daemons started by
/// [`spawn_detached`] do), else to `pid` alone.
fn send(pid: u32, signal: libc::c_int) {
    let Some(pid) = pid_t(pid) else {
        return;
    };
    // SAFETY: plain syscalls on a checked, positive pid (never 0 or 1).
    unsafe {
        if libc::getpgid(pid) == pid {
            libc::kill(-pid, signal);
        } else {
            libc::kill(pid, signal);
        }
    }
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then SIGKILL after `grace`. `Ok(true)` when it had to kill.
pub(crate) fn stop(pid: u32, what: &str, grace: Duration) -> Result<bool> {
    if !alive(pid) {
        return Ok(false);
    }
    send(pid, libc::SIGTERM);
    if wait_gone(pid, grace) {
        return Ok(false);
    }
    send(pid, libc::SIGKILL);
    if wait_gone(pid, Duration::from_secs(3)) {
        return Ok(true);
    }
    Err(Error::Stop {
        what: what.to_owned(),
        pid,
    })
}

/// The HTTP status of `GET path` on 127.0.0.1:`port`, or `None` when nothing answers in time.
pub(crate) fn http_status(port: u16, path: &str, timeout: Duration) -> Option<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    words
        .next()
        .filter(|v| v.starts_with("HTTP/"))
        .and(words.next())?
        .parse()
        .ok()
}

/// The HTTP status of `GET path` on 127.0.0.1:`port` and the first line of its body (the server
/// closes after it: `Connection: close`), or `None` when nothing answers in time.
pub(crate) fn http_answer(port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    const LIMIT: u64 = 8192;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    // A read that fails after some bytes (a timeout) still leaves the status line to judge.
    let _ = (&mut stream).take(LIMIT).read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut words = head.split_whitespace();
    let status = words
        .next()
        .filter(|v| v.starts_with("HTTP/"))
        .and(words.next())?
        .parse()
        .ok()?;
    let first_line = body.lines().next().unwrap_or("").trim().to_owned();
    Some((status, first_line))
}

/// The executable of that name in one of the directories of `path` (a `PATH` value).
pub(crate) fn on_path(name: &str, path: &OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The last `lines` lines of a text, for error messages.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}
