//! Prints the directives not acted on yet, in docs/COMPATIBILITY.md's format:
//! `cargo run -q -p redoubt-config --example directive_status`. The first line lists the
//! planned ones (`NotYet`), the second those not planned (`Never`).

fn main() {
    use redoubt_config::{Support, DIRECTIVES};
    let list = |want: Support| {
        DIRECTIVES
            .iter()
            .filter(|d| d.support == want)
            .map(|d| format!("`{}`", d.name))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("{}", list(Support::NotYet));
    println!("{}", list(Support::Never));
}
