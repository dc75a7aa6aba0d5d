//! Pure numerical code on plain slices and matrices: no I/O, no files, no
//! knowledge of roles or the command line.
pub mod change;
pub mod decompose;
pub mod describe;
pub mod effect;
pub mod escalc;
pub mod lmm;
pub mod measures;
pub mod meta;
pub mod nhs;
pub mod ols;
pub mod suppress;
pub mod variance;
