//! `completions` and `man`: a shell's completion script and the manual
//! pages, both made from the clap definitions in `mod.rs`, so they can
//! never disagree with what the program takes.
//!
//! They print; installing the result is the shell's or the user's business
//! (the README says where each goes).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, write_out};
use crate::error::{Failure, code};

/// The name the completions are written for: the program's own.
const NAME: &str = "backease";

pub(super) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<u8, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), NAME, &mut script);
    write_out(out, &String::from_utf8_lossy(&script))?;
    Ok(code::OK)
}

/// `backease man`: the page of the program, or of one of its commands
/// (`backease man play` is backease-play(1), which backease(1) refers to).
pub(super) fn man(command: Option<&str>, out: &mut dyn Write) -> Result<u8, Failure> {
    let mut cli = Cli::command();
    // Built, each subcommand knows its full name ("backease-play").
    cli.build();
    let page = match command {
        None => cli,
        Some(name) => cli.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
            Failure::usage(format!("backease has no command `{name}`"))
                .hint(format!("the commands: {}", names.join(", ")))
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| crate::error::io_failure("cannot make the manual page", &e))?;
    write_out(out, &String::from_utf8_lossy(&roff))?;
    Ok(code::OK)
}
