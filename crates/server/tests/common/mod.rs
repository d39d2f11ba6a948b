//! Shared by the integration tests that tap the replication stream: an in-process
//! redoubt-server whose end-of-batch stream is copied into a buffer, and the replay check.

use redoubt_engine::{Engine, RuntimeConf};
use redoubt_harness::{must_connect, must_start, Flavor, ServerProcess, Value};
use redoubt_server::listeners::Listeners;
use redoubt_server::server::{run, Settings, Shared};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Starts redoubt-server on a thread of this process (port 0, DEBUG enabled, plus
/// `directives`) with every byte of its replication stream appended to `sink`; returns the
/// port and the server's thread, which ends after SHUTDOWN.
pub fn start_in_process(
    sink: Arc<Mutex<Vec<u8>>>,
    directives: &[(&str, &str)],
) -> (u16, std::thread::JoinHandle<()>) {
    let directives: Vec<(String, String)> = directives
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            let port = listener.local_addr().expect("addr").port();
            // As startup does: the runtime settings and the directive table both come from
            // the config, so a later CONFIG SET (which re-reads the table) keeps DEBUG enabled.
            // No save points: an in-process server's working directory is the crate's.
            let mut text = String::from("enable-debug-command yes\nsave \"\"\n");
            for (name, value) in &directives {
                text.push_str(&format!("{name} {value}\n"));
            }
            let config =
                redoubt_config::parse_config_text(text.as_bytes(), "test").expect("config");
            let mut engine = Engine::new(RuntimeConf::from_config(&config), 7);
            engine.config = config;
            let settings = Settings {
                port,
                protected_mode: false,
                ..Settings::default()
            };
            let shared = Shared::new(engine, settings);
            shared.stream_taps.borrow_mut().push(Box::new(move |bytes| {
                sink.lock().expect("sink").extend_from_slice(bytes)
            }));
            tx.send(port).expect("report port");
            run(
                shared,
                Listeners {
                    tcp: vec![listener],
                    unix: None,
                },
            )
            .await;
        });
    });
    let port = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("in-process server started");
    (port, handle)
}

/// Replays `stream` into a fresh redoubt-server process started with `directives`; every
/// command must succeed and the dataset's DEBUG DIGEST must be `want`. Returns the replica for
/// further comparisons.
pub fn assert_replays_to(
    stream: &[u8],
    want: &Value,
    directives: &[(&str, &str)],
) -> ServerProcess {
    let mut all = vec![("enable-debug-command", "yes")];
    all.extend_from_slice(directives);
    let replica = must_start(Flavor::Redoubt, &all);
    let mut r = must_connect(&replica);
    r.set_timeout(Duration::from_secs(30));
    r.send(stream).expect("replay");
    let mut replayed = 0;
    let mut d = redoubt_resp::RequestDecoder::new();
    let mut buf = bytes::BytesMut::from(stream);
    while let Ok(Some(_)) = d.decode(&mut buf, &redoubt_resp::DecodeLimits::default()) {
        let reply = r.read_raw_reply();
        assert!(
            !reply.starts_with(b"-"),
            "replayed command {replayed} failed: {}",
            String::from_utf8_lossy(&reply)
        );
        replayed += 1;
    }
    assert!(buf.is_empty(), "the stream ends with a partial command");
    r.cmd(&["SELECT", "0"]);
    assert_eq!(
        &r.cmd(&["DEBUG", "DIGEST"]),
        want,
        "replayed dataset differs after {replayed} effects"
    );
    drop(r);
    replica
}
