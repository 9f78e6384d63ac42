use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(backease::run(std::env::args_os()))
}
