//! The `xcoin` binary: the command line in `cli`, everything else in the library.

use std::process::ExitCode;

mod bench;
mod cli;

fn main() -> ExitCode {
    cli::main()
}
