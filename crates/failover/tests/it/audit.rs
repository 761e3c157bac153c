//! The audit log is private to its user: mode 0600, in a directory created 0700.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tandem_failover::audit::AuditLog;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_audit_log_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/multi-region/dev.audit.jsonl");
    AuditLog::open(&path, "failover").record("promote", "started", "");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("state")), 0o700);

    // One left readable by an older tandem is made private when next opened, and appended to.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    AuditLog::open(&path, "failback").record("switch", "done", "");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}
