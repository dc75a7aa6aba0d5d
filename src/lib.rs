//! outcomes: psychotherapy outcome research from the command line.
//!
//! Data flows one way: [`data`] turns a file into typed columns with roles;
//! [`cli`] selects the rows and builds plain inputs; [`stats`] computes on
//! plain slices; results are serialised as the contract's JSON or printed as
//! tables. [`stats`] never imports [`data`] or [`cli`].
pub mod claims;
pub mod cli;
pub mod data;
pub mod error;
pub mod fuzzing;
pub mod literature;
pub mod output;
pub mod plot;
pub mod report;
pub mod simulate;
pub mod stats;

/// The tool's version, as printed by `--version` and in every JSON object.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
