//! The `xcoin` binary: the command line in `cli`, everything else in the library.

use std::process::ExitCode;

mod bench;
mod cli;
mod order_cmd;
mod strategy_cmd;

fn main() -> ExitCode {
    cli::main()
}
