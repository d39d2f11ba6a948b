//! The special modes (filled in by the next commit).

use crate::session::Session;

pub fn run(_s: Session) -> u8 {
    eprint!("redoubt-cli: this mode is not implemented yet\n");
    1
}

pub fn eval(_s: &mut Session, _file: &str) -> u8 {
    eprint!("redoubt-cli: --eval is not implemented yet\n");
    1
}
