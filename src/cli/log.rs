//! The practice log's commands: `remind` here. `log` and `today` go straight
//! from the dispatcher to `day::practice`, which reads and prints the log;
//! reminders are `day::remind`'s, this only reads the flags.

use std::io::Write;

use crate::error::Failure;

/// `remind`: set (with --every or --between), --off, --fire, or the state.
pub(super) fn remind(args: &crate::cli::RemindArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    use crate::day::remind::{DEFAULT_BETWEEN, DEFAULT_EVERY, Schedule};
    if args.off {
        return crate::day::remind::off(out);
    }
    if args.fire {
        let settings = crate::config::load(err)?.settings;
        return crate::day::remind::fire(&settings, out, err);
    }
    if args.every.is_none() && args.between.is_none() {
        return crate::day::remind::status(args.json, out);
    }
    let every = args.every.unwrap_or(DEFAULT_EVERY);
    crate::day::remind::set(Schedule { every, between: args.between.unwrap_or(DEFAULT_BETWEEN) }, out)
}
