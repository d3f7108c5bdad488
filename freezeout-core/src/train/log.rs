//! The run's record: a JSONL log (one event per line) and a final `summary.json`, written
//! next to the config that made them.

use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync
/// the directory. A crash leaves either the old file or the new one, never a torn one. The file
/// gets the usual permissions of a new file (0666 less the umask), not the temp file's 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Appends events to `log.jsonl` (or keeps them in memory when there is no run directory).
pub struct RunLog {
    dir: Option<PathBuf>,
    out: Option<BufWriter<File>>,
    /// Every event written, as JSON values (kept for callers and tests).
    pub events: Vec<serde_json::Value>,
}

impl RunLog {
    /// A log that only keeps events in memory.
    pub fn in_memory() -> Self {
        Self { dir: None, out: None, events: Vec::new() }
    }

    /// A log in `dir/log.jsonl` (the directory is created; an existing log is appended to).
    pub fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        let path = dir.join("log.jsonl");
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| with_path(e, &path))?;
        Ok(Self { dir: Some(dir.to_path_buf()), out: Some(BufWriter::new(file)), events: Vec::new() })
    }

    /// The run directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Records one event.
    pub fn event<E: Serialize>(&mut self, event: &E) -> io::Result<()> {
        let value = serde_json::to_value(event).map_err(io::Error::other)?;
        if let Some(out) = self.out.as_mut() {
            serde_json::to_writer(&mut *out, &value).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        self.events.push(value);
        Ok(())
    }

    /// Flushes buffered lines to the file (done at each epoch end and at the end).
    pub fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// Bytes in `log.jsonl` after a [`flush`](Self::flush) (0 in memory).
    pub fn bytes(&mut self) -> io::Result<u64> {
        match self.out.as_mut() {
            Some(out) => Ok(out.get_ref().metadata()?.len()),
            None => Ok(0),
        }
    }

    /// Writes `name` (e.g. `summary.json`) atomically into the run directory, pretty JSON.
    pub(crate) fn write_json<T: Serialize>(&self, name: &str, value: &T) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let path = dir.join(name);
        let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(|e| with_path(e, &path))
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
