//! Writing results: to stdout, or atomically to a file.
//!
//! A file is written to a temporary sibling (`.<name>.<pid>.tmp`) and renamed
//! over the target only when complete, so an interrupted run never leaves a
//! half-written output (contract: `-o, --output FILE` is written atomically).

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files and folders being written; removed by the signal thread
/// when the run is interrupted.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary output, removed from the pending list when dropped (after it
/// was renamed into place or removed).
pub struct Pending(PathBuf);

impl Pending {
    pub fn new(path: &Path) -> Pending {
        if let Ok(mut p) = PENDING.lock() {
            p.push(path.to_path_buf());
        }
        Pending(path.to_path_buf())
    }

    /// Runs `rename` (which puts the output in place) while the signal thread
    /// is held off, then forgets the temporary path: an interruption either
    /// comes first and removes the temporary output, or comes after the
    /// output is complete.
    pub fn commit<T>(self, rename: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        let out = rename();
        pending.retain(|x| *x != self.0);
        drop(pending);
        out
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut p) = PENDING.lock() {
            p.retain(|x| *x != self.0);
        }
    }
}

/// Removes a temporary output. A folder may still be written into by the
/// main thread, so it is first renamed away (the main thread's next write
/// then fails) and removed under that name; repeated while it reappears.
fn remove_output(p: &Path) {
    if !p.is_dir() {
        let _ = std::fs::remove_file(p);
        return;
    }
    let mut doomed = p.as_os_str().to_owned();
    doomed.push("-removing");
    let doomed = PathBuf::from(doomed);
    for _ in 0..200 {
        if !p.exists() {
            break;
        }
        if std::fs::rename(p, &doomed).is_ok() {
            while std::fs::remove_dir_all(&doomed).is_err() && doomed.exists() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        } else {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C, `kill`, a closed terminal): removes
/// every pending temporary output and exits with 128 + the signal number,
/// as a shell reports a signalled process. A thread waits for the signals,
/// so the removal runs outside the signal handler. SIGKILL cannot be caught:
/// its leftovers are hidden (`.<name>.<pid>.tmp`, `.<name>.partial-<pid>`),
/// never under the output's own name, and `report` removes stale ones.
pub fn remove_pending_on_signal() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Held until exit: no output is put in place meanwhile.
            let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
            for p in pending.iter() {
                remove_output(p);
            }
            eprintln!("interrupted: outputs in progress were removed");
            std::process::exit(128 + sig);
        }
    });
}

/// Output format of a command (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutFormat {
    /// Human-readable text (default).
    Table,
    /// One JSON object (the contract's keys).
    Json,
    /// Comma-separated values.
    Csv,
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_string());
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Writes `bytes` to `path` atomically (temporary file + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(Error::from))
}

/// Streams into a temporary file through `fill`, then renames it over `path`.
/// On any error the temporary file is removed and `path` is left untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(Error::input(format!(
                "cannot write '{}': the folder '{}' does not exist",
                path.display(),
                dir.display()
            )));
        }
    }
    let tmp = temp_sibling(path);
    let pending = Pending::new(&tmp);
    let result = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp)
            .map_err(|e| Error::other(format!("cannot create '{}': {e}", tmp.display())))?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::other(format!("cannot write '{}': {e}", path.display())))?;
        file.sync_all()?;
        pending.commit(|| {
            std::fs::rename(&tmp, path)
                .map_err(|e| Error::other(format!("cannot write '{}': {e}", path.display())))
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A p value the APA way (7th ed., §6.36): "= .035", "< .001" (no leading
/// zero, three decimals), "= NA" when it is not a number.
pub fn p_apa(p: f64) -> String {
    if !p.is_finite() {
        return "= NA".into();
    }
    if p < 0.001 {
        return "< .001".into();
    }
    let s = format!("{p:.3}");
    format!("= {}", s.trim_start_matches('0'))
}

/// Sends a command's text either to stdout or atomically to `output`.
pub fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomic(path, text.as_bytes()),
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            // A closed pipe (`outcomes ... | head`) is not an error worth a message.
            match lock.write_all(text.as_bytes()).and_then(|_| lock.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Pretty JSON with a trailing newline.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::other(format!("cannot serialise the result: {e}")))?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("outcomes-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let failed = write_atomic_with(&p, |_| Err(Error::other("boom")));
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"two",
            "target untouched on failure"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_folder_is_an_input_error() {
        let e = write_atomic(Path::new("/nonexistent-dir-xyz/a.csv"), b"x").unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
