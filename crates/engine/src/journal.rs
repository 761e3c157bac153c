//! The journal: intent recorded before every provider call, the outcome after.
//!
//! One JSON record per line, appended and fsynced, beside the state file. A run that is killed at
//! any instant leaves a journal whose `done` records are folded into the state by the next run and
//! whose unanswered `intent` records are reconciled by reading the cloud (see `recovery`).
//! Appending costs the same whatever the size of the stack: no whole-state rewrite per step.
//!
//! Concurrent appends are grouped: one writer thread writes every record waiting and fsyncs once
//! for all of them (group commit). Where the records go is a [`JournalWriter`]: the local file
//! here, or a remote backend's per-batch objects (see [`crate::backend::StateBackend`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tandem_core::ResourceAddr;

use crate::state::ResourceRecord;

/// What a provider call does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Create,
    Update,
    Delete,
}

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum JournalRecord {
    /// The first record of a run: which state it applies on top of.
    Begin {
        lineage: String,
        base_serial: u64,
        operation: String,
        /// The state's secret key (hex), under which this journal's secret digests are made: a
        /// run on a state not yet saved with its key (the first apply, or a state written before
        /// keys existed) is recovered with the same key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_key: Option<String>,
    },
    /// About to call the provider.
    Intent {
        seq: u64,
        addr: ResourceAddr,
        op: OpKind,
        token: String,
        /// The cloud id, for updates and deletes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The resolved inputs (secrets as digests), for creates and updates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<Json>,
        #[serde(default)]
        dependencies: Vec<ResourceAddr>,
        #[serde(default)]
        protect: bool,
        #[serde(default)]
        retain_on_delete: bool,
    },
    /// The call succeeded: the resource is now `record`, or gone when `None`.
    Done {
        seq: u64,
        addr: ResourceAddr,
        record: Option<ResourceRecord>,
    },
    /// The call failed; nothing changed that the state must know of.
    Failed {
        seq: u64,
        addr: ResourceAddr,
        error: String,
    },
    /// A resource was forgotten (removed from state, left in the cloud).
    Forget { addr: ResourceAddr },
    /// An extension's data (the failover posture) changed.
    Extension { key: String, value: Json },
}

/// Errors reading a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} journal {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "journal {} is corrupted at line {line}: {message}. The saved state is intact (`tandem \
         state list` still reads it). To repair: move the journal aside, keeping it to inspect \
         (`mv {0} {0}.corrupt`; on S3, the objects under that prefix), then run `tandem apply`: \
         what the interrupted run made is found by its names and tags and adopted, not made twice",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads every record. A last line cut short by a crash is ignored; any other bad line is an error.
pub fn read_journal(path: &Path) -> Result<Vec<JournalRecord>, JournalError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Io {
                action: "open",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse_journal(path, BufReader::new(file))
}

/// Reads the records of a journal from `reader` (`path` names it in errors): one JSON record a
/// line. A last line cut short by a crash is ignored; any other bad line is an error.
pub fn parse_journal(
    path: &Path,
    mut reader: impl BufRead,
) -> Result<Vec<JournalRecord>, JournalError> {
    let mut records = Vec::new();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| JournalError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })?;
        // Only the last line can lack its end: a torn final write. The intent or outcome it
        // carried never happened as far as anyone could observe, so it is dropped.
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        let record = serde_json::from_slice(&line).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            line: number,
            message: e.to_string(),
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Where a journal's records go: one call per batch of records (group commit), which returns once
/// the batch is durable. The local journal appends to its file and fsyncs; a remote backend
/// writes the batch as one object.
pub trait JournalWriter: Send {
    /// Writes `lines` (each a record ending in a newline), durably, in order.
    fn write_batch(&mut self, lines: &[Vec<u8>]) -> io::Result<()>;
}

/// The local journal's writer: appends to the file, then `fdatasync`.
struct FileWriter(File);

impl JournalWriter for FileWriter {
    fn write_batch(&mut self, lines: &[Vec<u8>]) -> io::Result<()> {
        for line in lines {
            self.0.write_all(line)?;
        }
        self.0.sync_data()
    }
}

/// One record as the journal writes it: its JSON and a newline.
pub fn record_line(record: &JournalRecord) -> Vec<u8> {
    let mut line = serde_json::to_vec(record).expect("records serialize");
    line.push(b'\n');
    line
}

type Pending = (Vec<u8>, tokio::sync::oneshot::Sender<io::Result<()>>);

/// An open journal, appended to by one writer thread with group commit.
pub struct Journal {
    path: PathBuf,
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<JoinHandle<()>>,
}

impl Journal {
    /// Opens (creating or truncating) the journal for a new run and writes its `Begin` record.
    pub fn create(path: &Path, begin: JournalRecord) -> Result<Journal, JournalError> {
        let io_err = |action, source| JournalError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let mut file = crate::store::open_private(
            path,
            OpenOptions::new().create(true).write(true).truncate(true),
        )
        .map_err(|e| io_err("create", e))?;
        file.write_all(&record_line(&begin))
            .map_err(|e| io_err("write", e))?;
        file.sync_data().map_err(|e| io_err("fsync", e))?;
        if let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(Journal::start(path, Box::new(FileWriter(file))))
    }

    /// A journal whose records go to `writer` (its `Begin` record already written), with
    /// `path` naming it in errors.
    pub fn start(path: &Path, writer: Box<dyn JournalWriter>) -> Journal {
        let (tx, rx) = mpsc::channel::<Pending>();
        let thread = std::thread::Builder::new()
            .name("tandem-journal".into())
            .spawn(move || writer_loop(writer, rx))
            .expect("spawn journal writer");
        Journal {
            path: path.to_path_buf(),
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and returns once it is on disk.
    pub async fn append(&self, record: &JournalRecord) -> Result<(), JournalError> {
        let written = self.submit(record)?;
        self.on_disk(written.await)
    }

    /// Appends from synchronous code (tests, benchmarks, recovery).
    pub fn append_blocking(&self, record: &JournalRecord) -> Result<(), JournalError> {
        let written = self.submit(record)?;
        self.on_disk(written.blocking_recv())
    }

    /// Hands one record to the writer thread; the receiver answers once it is written and fsynced.
    fn submit(
        &self,
        record: &JournalRecord,
    ) -> Result<tokio::sync::oneshot::Receiver<io::Result<()>>, JournalError> {
        let line = record_line(record);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| self.writer_stopped())?
            .send((line, done_tx))
            .map_err(|_| self.writer_stopped())?;
        Ok(done_rx)
    }

    /// The writer thread's answer to [`Journal::submit`], as the result of an append.
    fn on_disk(
        &self,
        answer: Result<io::Result<()>, tokio::sync::oneshot::error::RecvError>,
    ) -> Result<(), JournalError> {
        answer
            .map_err(|_| self.writer_stopped())?
            .map_err(|source| JournalError::Io {
                action: "append to",
                path: self.path.clone(),
                source,
            })
    }

    fn writer_stopped(&self) -> JournalError {
        JournalError::Io {
            action: "append to",
            path: self.path.clone(),
            source: io::Error::other("journal writer stopped"),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn writer_loop(mut writer: Box<dyn JournalWriter>, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let (lines, replies): (Vec<Vec<u8>>, Vec<_>) = batch.into_iter().unzip();
        let result = writer.write_batch(&lines);
        for reply in replies {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            let _ = reply.send(r);
        }
    }
}

/// Removes the journal once its records are folded into a saved state.
pub fn remove_journal(path: &Path) -> Result<(), JournalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(JournalError::Io {
            action: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}
