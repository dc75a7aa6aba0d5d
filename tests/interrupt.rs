//! An interrupted `report` leaves no partial folder (issue 10): Ctrl-C or
//! `kill` while the folder is being written removes the hidden temporary
//! folder and exits with 128 + the signal; SIGKILL, which cannot be caught,
//! leaves only a hidden `.NAME.partial-PID` folder, never NAME, and the next
//! run removes it. Unix only (signals).
#![cfg(unix)]
mod common;

use common::tempdir;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start_report(out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outcomes"))
        .args(["report", "--bootstrap", "200", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the outcomes binary starts")
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig}");
}

/// Starts a report into `dir/rep` and signals it as soon as its hidden
/// temporary folder appears (the writing phase). Returns the exit code, or
/// None when the run finished before the folder was seen (then retried).
fn interrupt_while_writing(dir: &Path, sig: &str) -> Option<Option<i32>> {
    let mut child = start_report(&dir.join("rep"));
    let start = Instant::now();
    loop {
        if entries(dir).iter().any(|e| e.starts_with(".rep.partial-")) {
            signal(&child, sig);
            return Some(child.wait().unwrap().code());
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the report failed on its own");
            return None;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "report hangs");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn ctrl_c_or_kill_while_writing_leaves_nothing() {
    for (sig, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tempdir(&format!("interrupt{sig}"));
        let mut caught = false;
        for _ in 0..10 {
            match interrupt_while_writing(&dir, sig) {
                Some(exit) if entries(&dir).is_empty() => {
                    assert_eq!(exit, Some(code), "{sig}");
                    caught = true;
                    break;
                }
                // The signal came after the folder was renamed into place:
                // the report is complete, and nothing else is left.
                Some(_) => {
                    assert_eq!(entries(&dir), vec!["rep".to_string()], "{sig}");
                    std::fs::remove_dir_all(dir.join("rep")).unwrap();
                }
                None => {
                    // Finished first: clear and try again.
                    std::fs::remove_dir_all(dir.join("rep")).unwrap();
                }
            }
        }
        assert!(
            caught,
            "{sig}: never caught the report while it was writing"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn ctrl_c_while_computing_leaves_nothing() {
    let dir = tempdir("interrupt-computing");
    let mut child = start_report(&dir.join("rep"));
    std::thread::sleep(Duration::from_millis(150));
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    // Either interrupted (130); or, on a machine so loaded that the signal
    // came before the handler was installed, ended by SIGINT itself (the
    // shell sees 130 as well), before anything was written; or, on a very
    // fast machine, already done.
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(130), _) | (None, Some(2)) => {
            assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir))
        }
        (Some(0), _) => assert_eq!(entries(&dir), vec!["rep".to_string()]),
        other => panic!("exit {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_report_leaves_only_a_hidden_folder_that_the_next_run_removes() {
    let dir = tempdir("interrupt-kill");
    let mut killed = false;
    for _ in 0..10 {
        match interrupt_while_writing(&dir, "-KILL") {
            // Killed after the folder was renamed into place: the report is
            // complete (the rename is atomic), so try again.
            Some(_) if dir.join("rep").exists() => {
                assert!(
                    dir.join("rep/provenance.json").exists(),
                    "{:?}",
                    entries(&dir)
                );
                std::fs::remove_dir_all(dir.join("rep")).unwrap();
            }
            Some(_) => {
                killed = true;
                break;
            }
            None => std::fs::remove_dir_all(dir.join("rep")).unwrap(),
        }
    }
    assert!(killed, "never caught the report while it was writing");
    let left = entries(&dir);
    assert!(
        !left.contains(&"rep".to_string()),
        "a partial report under its own name"
    );
    assert!(
        left.iter().all(|e| e.starts_with(".rep.partial-")),
        "{left:?}"
    );
    let o = start_report(&dir.join("rep")).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        entries(&dir),
        vec!["rep".to_string()],
        "the stale folder is removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
