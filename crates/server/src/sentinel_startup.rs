//! Starting in sentinel mode (`--sentinel`, or the binary named redis-sentinel): the config
//! file is required and must be writable, `sentinel ...` lines go to the core, the port
//! defaults to 26379, and the engine serves redis-sentinel's command table.

use crate::log::{self, Level};
use crate::sentinel_driver::{self, Driver, Glue};
use crate::server::{Settings, Shared};
use crate::startup::Loaded;
use redoubt_config::ServerArgs;
use redoubt_engine::RuntimeConf;
use std::rc::Rc;

/// REDIS_SENTINEL_PORT.
const SENTINEL_PORT: i64 = 26379;

/// The core, loaded, waiting for the server to start.
pub struct Pending {
    driver: Rc<Driver>,
    myid_generated: bool,
}

impl Pending {
    /// The driver, for the metrics endpoint.
    pub fn driver(&self) -> Rc<Driver> {
        self.driver.clone()
    }
}

/// Returns the exit code.
pub fn main(args: &ServerArgs) -> i32 {
    // Every line of a Sentinel's log carries its role letter, from the first one.
    log::set_role('X');
    let Some(path) = args.config_file.clone() else {
        log::log(
            Level::Warning,
            "Sentinel needs config file on disk to save state. Exiting...",
        );
        return 1;
    };
    let table = redoubt_engine::table::Table::build_sentinel();
    let exists = |name: &[u8]| {
        std::str::from_utf8(name)
            .map(|n| table.get(&n.to_ascii_lowercase()).is_some())
            .unwrap_or(false)
    };
    let mut env = redoubt_config::fsio::FsEnv {
        sentinel_mode: true,
        command_exists: Some(&exists),
        check_user: None,
    };
    let mut config = match redoubt_config::fsio::load_server_config(args, &mut env) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return 1;
        }
    };
    let abs = redoubt_config::fsio::absolute_path(&path).unwrap_or_else(|_| path.clone());
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&abs) {
        log::log(
            Level::Warning,
            &format!(
                "Sentinel config file {abs} is not writable: {}. Exiting...",
                redoubt_config::fsio::strerror(&e)
            ),
        );
        return 1;
    }

    // initSentinelConfig sets these before the file is read, so the file can override them;
    // they differ from redis-server's defaults and CONFIG REWRITE writes them.
    for (name, value) in [
        ("port", SENTINEL_PORT.to_string()),
        ("protected-mode", "no".into()),
    ] {
        if !given(args, &abs, name) {
            let text = format!("{name} {value}\n");
            let _ = config.load_text(text.as_bytes(), "(sentinel default)", &mut env);
        }
    }
    let port = config.get_int("port").clamp(0, 65535) as u16;
    let now = log::now_ms();
    let seed = (now as u64) ^ u64::from(std::process::id()).rotate_left(29);
    let mut core = redoubt_sentinel::Sentinel::new(seed, port, now);
    core.requirepass = config
        .get_opt_bytes("requirepass")
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let lines: Vec<redoubt_sentinel::config::Line<'_>> = config
        .sentinel_lines()
        .iter()
        .map(|l| redoubt_sentinel::config::Line {
            args: &l.args,
            line_no: l.line_no,
            line: &l.line,
        })
        .collect();
    if let Err(e) = core.load_config(&lines, now) {
        eprint!("{e}");
        return 1;
    }
    let myid_generated = core.ensure_myid();
    let settings = Settings::from_config(&config);
    let driver = Driver::new(core, abs.clone(), config.clone());
    let loaded = Loaded {
        conf: RuntimeConf::from_config(&config),
        settings,
        config_file: abs,
        config,
    };
    crate::startup::run(
        loaded,
        Some(Pending {
            driver,
            myid_generated,
        }),
    )
}

/// Whether directive `name` was set in the file or on the command line.
fn given(args: &ServerArgs, path: &str, name: &str) -> bool {
    let is_port = |l: &str| {
        l.split_whitespace().next().is_some_and(|w| {
            w.eq_ignore_ascii_case(name) || w.eq_ignore_ascii_case(&format!("--{name}"))
        })
    };
    let in_file = std::fs::read_to_string(path)
        .map(|t| t.lines().any(is_port))
        .unwrap_or(false);
    in_file || String::from_utf8_lossy(&args.options).lines().any(is_port)
}

/// Installs the core into the engine and starts the driver (`sentinelIsRunning`).
pub fn start(p: Pending, shared: &Rc<Shared>) {
    {
        let mut eng = shared.engine.borrow_mut();
        eng.table = Rc::new(redoubt_engine::table::Table::build_sentinel());
        eng.sentinel = Some(Rc::new(Glue(p.driver.clone())));
    }
    p.driver.attach(shared);
    if p.myid_generated {
        if let Err(e) = p.driver.flush_config() {
            log::log(
                Level::Warning,
                &format!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                ),
            );
        } else {
            log::log(Level::Notice, "Sentinel new configuration saved on disk");
        }
    }
    let myid = p.driver.core.borrow().myid.clone();
    log::log(Level::Warning, &format!("Sentinel ID is {myid}"));
    p.driver.core.borrow_mut().initial_monitor_events();
    tokio::task::spawn_local(sentinel_driver::run(p.driver));
}
