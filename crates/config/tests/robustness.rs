//! Parsing never panics, a failed CONFIG SET changes nothing, and whatever CONFIG SET accepts
//! survives a rewrite.

use proptest::prelude::*;
use redoubt_config::{
    parse_config_text, parse_server_args, rewrite_config_text, Config, DirectiveId, RewriteOptions,
    SetContext, DIRECTIVES,
};

fn directive_name() -> impl Strategy<Value = String> {
    (0..DIRECTIVES.len()).prop_map(|i| DIRECTIVES[i].name.to_owned())
}

/// Words a config line is likely to contain: names, numbers with units, quotes.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        directive_name(),
        Just("include".to_owned()),
        Just("rename-command".to_owned()),
        Just("user".to_owned()),
        Just("sentinel".to_owned()),
        "[0-9]{1,20}[kKmMgGbB%]{0,2}",
        "-?[0-9]{1,4}",
        "[ -~]{0,12}",
        Just("\"\"".to_owned()),
        Just("yes".to_owned()),
        Just("no".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(text in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_config_text(&text, "fuzz");
        let _ = rewrite_config_text(&text, &Config::new(), &RewriteOptions::default());
    }

    #[test]
    fn parsing_plausible_lines_never_panics(lines in proptest::collection::vec(proptest::collection::vec(word(), 1..5), 0..12)) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        if let Ok(cfg) = parse_config_text(text.as_bytes(), "fuzz") {
            let _ = rewrite_config_text(text.as_bytes(), &cfg, &RewriteOptions::default());
        }
    }

    #[test]
    fn server_args_never_panic(args in proptest::collection::vec("(--)?[ -~]{0,10}", 0..8)) {
        let mut argv = vec!["redis-server".to_owned()];
        argv.extend(args);
        let _ = parse_server_args(&argv);
    }

    #[test]
    fn config_set_is_atomic_and_survives_rewrite(
        pairs in proptest::collection::vec((directive_name(), word()), 1..4)
    ) {
        let mut cfg = Config::new();
        cfg.set_dir_resolved("/d".into());
        let before = cfg.clone();
        let args: Vec<&[u8]> = pairs.iter().flat_map(|(n, v)| [n.as_bytes(), v.as_bytes()]).collect();
        let ctx = SetContext { protected_allowed: true, loading: false };
        match cfg.config_set(&args, &ctx) {
            Err(_) => {
                for i in 0..DIRECTIVES.len() {
                    let id = DirectiveId(i as u16);
                    prop_assert_eq!(cfg.value(id), before.value(id));
                }
            }
            Ok(_) => {
                // Known Redis behaviour we keep: a byte count above LLONG_MAX is rewritten
                // as a negative number, and bind addresses are written unquoted.
                let unsafe_for_rewrite = pairs.iter().any(|(n, v)| {
                    (n == "maxmemory" || n == "cluster-link-sendbuf-limit") && cfg.get_int(n) < 0
                        || n == "bind" && v.bytes().any(|b| matches!(b, b'"' | b'\'' | b'\\'))
                });
                if !unsafe_for_rewrite {
                    let text = rewrite_config_text(b"", &cfg, &RewriteOptions::default());
                    let back = parse_config_text(&text, "rewritten");
                    prop_assert!(back.is_ok(), "{:?}\n{}", back.err(), String::from_utf8_lossy(&text));
                    let back = back.expect("checked");
                    for (i, dir) in DIRECTIVES.iter().enumerate() {
                        let id = DirectiveId(i as u16);
                        prop_assert_eq!(cfg.get_value_bytes(id), back.get_value_bytes(id), "{}", dir.name);
                    }
                }
            }
        }
    }
}
