//! The interactive loop (filled in by a later commit).

use crate::opts::Options;

pub fn run(_o: Options) -> u8 {
    eprint!("redoubt-cli: interactive mode is not implemented yet\n");
    1
}

pub fn ask_password() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.trim_end_matches(['\r', '\n']).to_string()
}
