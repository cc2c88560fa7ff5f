//! A configuration that could not be loaded, in words that say what to fix.

use std::path::PathBuf;

/// A configuration that could not be loaded, in words that say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("config key `{key}` = {value} (from {origin}) is invalid: expected {expected}")]
    Invalid { key: String, value: String, origin: String, expected: String },
    #[error(
        "{path} holds secrets but is readable by other users (mode {mode:o}); run `chmod 600 {path}`",
        path = .path.display()
    )]
    InsecureFile { path: PathBuf, mode: u32 },
    #[error("cannot read {path}: {message}", path = .path.display())]
    Unreadable { path: PathBuf, message: String },
    /// A value under one of the original system's names that XCoin will not guess at.
    #[error("{var}={value} (from {origin}) {problem}")]
    Original { var: String, value: String, origin: String, problem: String },
}
