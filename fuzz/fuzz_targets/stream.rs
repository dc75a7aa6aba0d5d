//! Fuzz target: the body is `outcomes::fuzzing::stream` (documented there), so
//! that `cargo test` replays saved inputs through the same code
//! (tests/fuzz_regressions.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| outcomes::fuzzing::stream(data));
