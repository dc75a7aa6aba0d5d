//! Replays every input under tests/fuzz_regressions/TARGET/ through the fuzz
//! target's body (`outcomes::fuzzing`): the inputs on which `cargo fuzz`
//! once found a crash (kept as regression tests, issue 10), plus the seed
//! inputs the fuzzers start from (fuzz/seeds/). Each must return without a
//! panic. See README, "Fuzzing".
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in [
        root.join("tests/fuzz_regressions").join(target),
        root.join("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let result = std::panic::catch_unwind(|| body(&data));
            assert!(result.is_ok(), "{target}: {} panics", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_inputs_replay_without_a_panic() {
    let mut total = 0;
    for (target, body) in [
        ("loader", outcomes::fuzzing::loader as fn(&[u8])),
        ("spec", outcomes::fuzzing::spec),
        ("formula", outcomes::fuzzing::formula),
        ("claims", outcomes::fuzzing::claims),
        ("filter", outcomes::fuzzing::filter),
        ("stream", outcomes::fuzzing::stream),
    ] {
        let n = replay(target, body);
        assert!(n > 0, "no inputs for {target}");
        total += n;
    }
    assert!(total >= 30, "{total} inputs");
}
