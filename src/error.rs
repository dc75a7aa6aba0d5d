//! Errors as values, and the contract's exit codes.
//!
//! Every error that reaches `main` is one of three kinds (contract,
//! "Conventions for every command"):
//!
//! * [`Error::Input`]: the input file or the arguments are wrong → exit 2.
//!   It carries up to [`MAX_PROBLEMS`] [`Problem`]s, each naming the file, the
//!   1-based line, the column, the offending value and what would be accepted.
//! * [`Error::Analysis`]: the analysis cannot be done on this data → exit 3.
//! * [`Error::Other`]: anything else (I/O failures, ...) → exit 1.
//!
//! Values echoed back to the user are cut to [`MAX_VALUE_CHARS`] characters so
//! that an error message shows at most the offending cell, never a row.

use std::fmt;

/// Validation collects at most this many problems before it stops.
pub const MAX_PROBLEMS: usize = 20;

/// Longest cell value quoted in a message.
pub const MAX_VALUE_CHARS: usize = 40;

/// One bad cell or one bad argument.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// File as the user named it (or `--flag` for an argument).
    pub file: String,
    /// 1-based physical line in the file where the record starts.
    pub line: Option<u64>,
    /// Column name.
    pub column: Option<String>,
    /// The offending value, shortened.
    pub value: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl Problem {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: file.into(),
            line: None,
            column: None,
            value: None,
            message: message.into(),
        }
    }
    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
    pub fn value(mut self, value: &str) -> Self {
        self.value = Some(shorten(value));
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(col) = &self.column {
            write!(f, ", column '{col}'")?;
        }
        if let Some(v) = &self.value {
            write!(f, ", value '{v}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Shorten a value for display: at most [`MAX_VALUE_CHARS`] characters,
/// control characters replaced, so a 10 MB cell or binary garbage cannot
/// flood the terminal.
pub fn shorten(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_VALUE_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '�' } else { c });
    }
    out
}

#[derive(Debug)]
pub enum Error {
    /// Bad input or arguments (exit 2).
    Input {
        summary: String,
        problems: Vec<Problem>,
    },
    /// The analysis cannot be done on this data (exit 3).
    Analysis(String),
    /// Anything else (exit 1).
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An input error with a single problem.
    pub fn problem(p: Problem) -> Self {
        let summary = p.message.clone();
        Error::Input {
            summary,
            problems: vec![p],
        }
    }
    /// An input error about an argument or a whole file, no cell involved.
    pub fn input(summary: impl Into<String>) -> Self {
        Error::Input {
            summary: summary.into(),
            problems: Vec::new(),
        }
    }
    /// Several problems found while validating (already capped by the caller).
    pub fn problems(summary: impl Into<String>, problems: Vec<Problem>) -> Self {
        Error::Input {
            summary: summary.into(),
            problems,
        }
    }
    pub fn analysis(msg: impl Into<String>) -> Self {
        Error::Analysis(msg.into())
    }
    pub fn other(msg: impl Into<String>) -> Self {
        Error::Other(msg.into())
    }
    /// The contract's exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } => 2,
            Error::Analysis(_) => 3,
            Error::Other(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { summary, problems } => {
                if problems.len() == 1 && &problems[0].message == summary {
                    return write!(f, "{}", problems[0]);
                }
                write!(f, "{summary}")?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                if problems.len() >= MAX_PROBLEMS {
                    write!(
                        f,
                        "\n  (stopped after {MAX_PROBLEMS} problems; fix these and run again)"
                    )?;
                }
                Ok(())
            }
            Error::Analysis(m) => write!(f, "cannot analyse this data: {m}"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Other(format!("I/O error: {e}"))
    }
}

/// Collects problems up to [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a problem; returns false once the cap is reached (stop scanning).
    pub fn push(&mut self, p: Problem) -> bool {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        }
        self.list.len() < MAX_PROBLEMS
    }
    pub fn is_full(&self) -> bool {
        self.list.len() >= MAX_PROBLEMS
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// `Ok(())` when nothing was found, else an input error.
    pub fn into_result(self, summary: impl Into<String>) -> Result<()> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(Error::problems(summary, self.list))
        }
    }
}
