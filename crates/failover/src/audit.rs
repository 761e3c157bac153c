//! The audit log: one JSON line per failover event, appended beside the state.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub struct AuditLog {
    operation: String,
    file: Mutex<Option<std::fs::File>>,
}

impl AuditLog {
    /// Appends to `path` (created with its directory when missing: mode 0600 in a directory of
    /// mode 0700) for `operation`.
    pub fn open(path: &Path, operation: &str) -> AuditLog {
        use tandem_engine::store::{create_private_dir, open_private};
        if let Some(dir) = path.parent() {
            let _ = create_private_dir(dir);
        }
        let file = open_private(path, std::fs::OpenOptions::new().create(true).append(true)).ok();
        AuditLog {
            operation: operation.to_string(),
            file: Mutex::new(file),
        }
    }

    /// Records one event; an audit log that cannot be written is not a reason to stop a failover.
    pub fn record(&self, phase: &str, event: &str, detail: &str) {
        let line = serde_json::json!({
            "time": crate::context::now_text(),
            "epoch": crate::context::epoch_now(),
            "operation": self.operation,
            "phase": phase,
            "event": event,
            "detail": detail,
            "user": std::env::var("USER").unwrap_or_default(),
        });
        if let Some(f) = self.file.lock().expect("audit lock").as_mut() {
            let _ = writeln!(f, "{line}");
            let _ = f.sync_data();
        }
    }
}
