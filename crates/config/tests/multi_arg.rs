//! Multi-argument directives given as one quoted argument are split, as redis-server 7.0.15
//! does for `--save "900 1"` on the command line (checked against the real server).

#[test]
fn one_quoted_argument_is_split() {
    let cfg = redoubt_config::parse_config_text(
        b"client-output-buffer-limit \"pubsub 256kb 128kb 60\"\nsave \"900 1 300 10\"\n",
        "test",
    )
    .expect("valid");
    let got = cfg.config_get(&[b"client-output-buffer-limit", b"save"]);
    let got: Vec<(String, String)> = got
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    assert!(got.contains(&(
        "client-output-buffer-limit".into(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 262144 131072 60".into()
    )));
    assert!(got.contains(&("save".into(), "900 1 300 10".into())));
    // An empty single argument is not split: `save ""` clears the save points.
    let cfg = redoubt_config::parse_config_text(b"save \"\"\n", "test").expect("valid");
    assert_eq!(cfg.config_get(&[b"save"])[0].1, b"".to_vec());
}
