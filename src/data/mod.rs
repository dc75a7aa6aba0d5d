//! Data ingest: loading files into a [`table::Table`], roles and the spec
//! file, the `--where` filter, long-to-wide conversion and the privacy audit.
pub mod fasthash;
pub mod filter;
pub mod input;
pub mod load;
pub mod long;
pub mod privacy;
pub mod roles;
pub mod split;
pub mod stream;
pub mod table;
pub mod write;
