//! `outcomes`: the table of contents.
//!
//! Parse the arguments, run the command, map an error to the contract's exit
//! code (2 bad input or arguments, 3 analysis impossible on this data, 1
//! anything else). Nothing else happens here.

use clap::Parser;

fn main() {
    let cli = outcomes::cli::Cli::parse();
    outcomes::output::remove_pending_on_signal();
    if let Err(e) = outcomes::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
