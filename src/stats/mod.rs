//! Pure numerical code on plain slices and matrices: no I/O, no files, no
//! knowledge of roles or the command line.
pub mod describe;
pub mod ols;
