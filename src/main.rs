//! The `pairdesk` binary: command-line parsing, logging, and dispatch.
//! `anyhow` lives only here, at the edge; everything below has typed errors.

#[cfg(feature = "ssr")]
mod bench;
#[cfg(feature = "ssr")]
mod cli;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {}
