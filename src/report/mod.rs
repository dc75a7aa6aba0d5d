//! `outcomes report`: runs the analyses the roles allow and writes a
//! self-contained report folder (contract §report): `index.html` (inline SVG
//! and CSS, no scripts, A4 print styles), `report.md`, `tables/*.csv` and
//! `tables/*.tex` (booktabs), `figures/*.svg` and `figures/*.png`,
//! `results.json` and `provenance.json`.
//!
//! Every section is produced by the same code as the command it names
//! (`change`, `variance`, `lmm`), through their argument parsers, and the
//! report lists the equivalent command lines so that any number can be
//! reproduced on its own. Reports never contain client-level data: counts
//! follow the small-number rule of science.md §6 unless `--no-suppression`
//! is given, the pre/post figure is binned with cells of fewer than 8
//! clients left out, and therapists appear only as ranks, never by ID.
//!
//! The same input and seed give byte-identical files; only the time in
//! `provenance.json` differs. The folder is written next to its destination
//! under a temporary name and renamed into place, so an interrupted run
//! leaves no partial report.

mod render;
mod sections;

use crate::cli::common::InputArgs;
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

pub use sections::build;

/// A table as every format shows it: text cells, already suppressed.
#[derive(Debug, Clone)]
pub struct Table {
    /// File stem under `tables/`.
    pub name: String,
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub note: Option<String>,
}

/// A figure rendered once to SVG and PNG.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem under `figures/`.
    pub name: String,
    pub caption: String,
    pub svg: String,
    pub png: Vec<u8>,
}

/// One section of the report.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub tables: Vec<Table>,
    pub figures: Vec<Figure>,
    /// Equivalent command lines.
    pub commands: Vec<String>,
}

/// The whole report before it is written.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub dataset: String,
    pub summary: Vec<String>,
    pub sections: Vec<Section>,
    pub methods: Vec<String>,
    pub caveats: Vec<String>,
    pub references: Vec<String>,
    /// `results.json` (numbers of every section, suppressed as shown).
    pub results: Value,
    /// Input path and sha256 for provenance.
    pub input_path: String,
    pub input_sha256: String,
    pub seed: u64,
}

/// Where the report goes: `--out`, else `reports/<dataset-name>/`.
pub fn default_dir(input: &InputArgs) -> PathBuf {
    let name = input
        .data
        .as_ref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "demo-clinic".to_string());
    Path::new("reports").join(sanitise(&name))
}

fn sanitise(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "report".to_string()
    } else {
        s
    }
}

/// Removes hidden `.<name>.partial-<pid>` folders left by a run of `report`
/// that was killed (SIGKILL cannot be caught) and whose process is gone.
fn remove_stale(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        // `.NAME.partial-PID`, or `.NAME.partial-PID-removing` when the
        // run was killed while removing it.
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").is_dir() && Path::new(&format!("/proc/{pid}")).exists();
        if !alive && Path::new("/proc").is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Writes the folder atomically: into a hidden sibling first, then renamed
/// into place (replacing an older report of the same name).
pub fn write(report: &Report, dir: &Path, command_line: &[String]) -> Result<Vec<PathBuf>> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| {
        Error::input(format!(
            "cannot create the folder {}: {e}",
            parent.display()
        ))
    })?;
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .ok_or_else(|| Error::input(format!("--out {}: give a folder name", dir.display())))?;
    let pid = std::process::id();
    remove_stale(&parent, &name);
    let tmp = parent.join(format!(".{name}.partial-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    let pending = crate::output::Pending::new(&tmp);
    let files = match write_into(report, &tmp, command_line) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let old = parent.join(format!(".{name}.old-{pid}"));
    pending.commit(|| {
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| {
                let _ = std::fs::remove_dir_all(&tmp);
                Error::other(format!("cannot replace {}: {e}", dir.display()))
            })?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| {
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&tmp);
            Error::other(format!("cannot write {}: {e}", dir.display()))
        })
    })?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

fn write_into(report: &Report, tmp: &Path, command_line: &[String]) -> Result<Vec<String>> {
    let io =
        |p: &Path, e: std::io::Error| Error::other(format!("cannot write {}: {e}", p.display()));
    for sub in ["", "tables", "figures"] {
        let d = tmp.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for s in &report.sections {
        for t in &s.tables {
            files.push((
                format!("tables/{}.csv", t.name),
                render::csv(t)?.into_bytes(),
            ));
            files.push((
                format!("tables/{}.tex", t.name),
                render::latex(t).into_bytes(),
            ));
        }
        for f in &s.figures {
            files.push((
                format!("figures/{}.svg", f.name),
                f.svg.clone().into_bytes(),
            ));
            files.push((format!("figures/{}.png", f.name), f.png.clone()));
        }
    }
    files.push(("index.html".into(), render::html(report).into_bytes()));
    files.push(("report.md".into(), render::markdown(report).into_bytes()));
    let mut results = crate::output::to_json(&report.results)?;
    if !results.ends_with('\n') {
        results.push('\n');
    }
    files.push(("results.json".into(), results.into_bytes()));
    // provenance: every other file's sha256, then the time
    let mut hashes = Map::new();
    for (name, bytes) in &files {
        hashes.insert(name.clone(), json!(crate::data::load::sha256_hex(bytes)));
    }
    let provenance = json!({
        "tool": "outcomes",
        "version": crate::VERSION,
        "command_line": command_line,
        "input": {"path": report.input_path, "sha256": report.input_sha256},
        "seed": report.seed,
        "time": utc_now(),
        "files": hashes,
    });
    files.push((
        "provenance.json".into(),
        (crate::output::to_json(&provenance)? + "\n").into_bytes(),
    ));
    for (name, bytes) in &files {
        let p = tmp.join(name);
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
    }
    Ok(files.into_iter().map(|(n, _)| n).collect())
}

/// ISO 8601 UTC time from the system clock (civil-from-days: Hinnant 2013,
/// "chrono-Compatible Low-Level Date Algorithms", days_from_civil inverse).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_safe() {
        assert_eq!(sanitise("demo clinic (2024)"), "demo-clinic--2024-");
        assert_eq!(sanitise(""), "report");
    }

    #[test]
    fn time_is_iso_8601() {
        let t = utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
