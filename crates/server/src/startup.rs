//! Startup and shutdown, as redis-server does them: command line, config, banner,
//! listeners, pidfile, daemonize, signals, and the exit lines.

use crate::log::{self, Level};
use crate::server::{self, Settings, Shared};
use crate::{notice, warning};
use redoubt_config::{Invocation, ServerArgs};
use redoubt_engine::{Engine, RuntimeConf, REDIS_VERSION, REDOUBT_VERSION};
use std::ffi::OsString;
use std::rc::Rc;

pub fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=redoubt-{REDOUBT_VERSION}"
    )
}

fn usage() -> String {
    "Usage: ./redoubt-server [/path/to/redis.conf] [options] [-]\n       \
./redoubt-server - (read config from stdin)\n       \
./redoubt-server -v or --version\n       \
./redoubt-server -h or --help\n\n\
Examples:\n       \
./redoubt-server (run the server with default conf)\n       \
./redoubt-server /etc/redis/6379.conf\n       \
./redoubt-server --port 7777\n       \
./redoubt-server --port 7777 --replicaof 127.0.0.1 8888\n       \
./redoubt-server /etc/myredis.conf --loglevel verbose -\n       \
./redoubt-server /etc/myredis.conf --loglevel verbose\n"
        .to_string()
}

/// Everything startup derives from the configuration.
pub struct Loaded {
    pub conf: RuntimeConf,
    pub settings: Settings,
    pub config_file: String,
    pub config: redoubt_config::Config,
}

/// Entry point of the binary; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    // `--metrics-port N` is the short spelling of our own directive.
    let argv: Vec<&[u8]> = args
        .iter()
        .map(|a| match a.as_bytes() {
            b"--metrics-port" => b"--redoubt-metrics-port",
            other => other,
        })
        .collect();
    let server_args = match redoubt_config::parse_server_args(&argv) {
        Invocation::Version => {
            println!("{}", version_line());
            return 0;
        }
        Invocation::Help => {
            eprint!("{}", usage());
            return 1;
        }
        Invocation::TestMemory(_) | Invocation::CheckSystem => {
            eprintln!("This option is not supported by redoubt-server.");
            return 1;
        }
        Invocation::Run(a) => a,
    };
    if server_args.sentinel_mode {
        return crate::sentinel_startup::main(&server_args);
    }
    match load(&server_args) {
        Ok(l) => run(l, None),
        Err(report) => {
            eprint!("{report}");
            1
        }
    }
}

pub(crate) fn run(loaded: Loaded, sentinel: Option<crate::sentinel_startup::Pending>) -> i32 {
    let Loaded {
        conf,
        settings,
        config_file,
        config,
    } = loaded;
    let level = Level::parse(&settings.loglevel).unwrap_or(Level::Notice);
    log::configure(level, &settings.logfile);
    let pid = std::process::id();
    warning!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    warning!(
        "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"
    );
    warning!("Redoubt version={REDOUBT_VERSION}");
    if sentinel.is_none() {
        warn_unsupported(&config);
    }
    if config_file.is_empty() {
        warning!("Warning: no config file specified, using the default config. In order to specify a config file use {} /path/to/redis.conf", std::env::args().next().unwrap_or_default());
    } else {
        warning!("Configuration loaded");
    }
    if settings.daemonize {
        if let Err(e) = daemonize() {
            warning!("Can't daemonize: {e}");
            return 1;
        }
    }
    log::set_role(if sentinel.is_some() { 'X' } else { 'M' });
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            warning!("Failed creating the event loop: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, async move {
        serve(conf, settings, config_file, config, sentinel).await
    });
    // A load still decoding on its thread (a shutdown during LOADING) is not waited for.
    rt.shutdown_background();
    code
}

/// Directives Redoubt knows but does not act on yet: accepted, with a warning naming them
/// (docs/COMPATIBILITY.md lists them too).
fn warn_unsupported(config: &redoubt_config::Config) {
    let defaults = redoubt_config::Config::new();
    for d in redoubt_config::DIRECTIVES {
        if d.support == redoubt_config::Support::Yes {
            continue;
        }
        let Some(m) = redoubt_config::lookup(d.name.as_bytes()) else {
            continue;
        };
        if config.get_value_bytes(m.id) != defaults.get_value_bytes(m.id) {
            warning!(
                "Directive '{}' is accepted but not implemented by Redoubt yet: its value is ignored",
                d.name
            );
        }
    }
}

async fn serve(
    conf: RuntimeConf,
    settings: Settings,
    config_file: String,
    config: redoubt_config::Config,
    sentinel: Option<crate::sentinel_startup::Pending>,
) -> i32 {
    let listeners = match crate::listeners::bind_all(&settings) {
        Ok(l) => l,
        Err(msg) => {
            warning!("{msg}");
            return 1;
        }
    };
    let metrics_port = config.get_int("redoubt-metrics-port").clamp(0, 65535) as u16;
    let seed = (log::now_ms() as u64) ^ u64::from(std::process::id()).rotate_left(32);
    let mut engine = Engine::new(conf, seed);
    engine.info.pid = std::process::id();
    engine.info.tcp_port = settings.port;
    engine.info.config_file = config_file.clone();
    engine.config = config;
    engine.config_file = (!config_file.is_empty()).then_some(config_file);
    engine.info.start_ms = log::now_ms();
    engine.info.used_memory = crate::mem::read;
    engine.info.used_memory_fast = crate::mem::used_fast;
    engine.info.wall_us = crate::log::now_us;
    engine.info.run_id = run_id(seed);
    engine.info.replid = run_id(seed.rotate_left(17) ^ 0x5851_f42d_4c95_7f2d);
    engine.repl.ids = redoubt_replication::ReplIds::new(engine.info.replid.clone());
    engine.info.executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    engine.info.clock_us = log::monotonic_us;
    engine.info.cpu = crate::sys::cpu_usage;
    engine.info.total_system_memory = crate::sys::total_system_memory();
    engine.info.mem_allocator = crate::mem::allocator_name();
    engine.info.malloc_stats = Some(crate::sys::malloc_stats);
    engine.info.os = os_name();
    // Redis's bioInit: the lazyfree thread (UNLINK, FLUSHALL ASYNC) starts with the server,
    // and the server refuses to run without it, as Redis does.
    engine.lazyfree = match redoubt_engine::lazyfree::LazyFree::start_thread() {
        Ok(l) => l,
        Err(e) => {
            warning!("Fatal: Can't initialize Background Jobs. {e}");
            return 1;
        }
    };
    // A server that never saved reports its start as the last save, as Redis does.
    engine.lastsave_s = engine.info.start_ms / 1000;
    let (bind, backlog) = (settings.bind.clone(), settings.tcp_backlog);
    let pidfile = settings.pidfile.clone();
    let unixsocket = settings.unixsocket.clone();
    let port = settings.port;
    let load_failed: Rc<std::cell::Cell<Option<i32>>> = Rc::new(std::cell::Cell::new(None));
    engine.mem_startup = crate::mem::read().allocated;
    let shared = Shared::new(engine, settings);
    shared.engine.borrow_mut().hooks = Rc::new(crate::server::Hooks {
        shared: Rc::downgrade(&shared),
    });
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            warning!("Failed to write PID file: {e}");
        }
    }
    if metrics_port != 0 {
        let driver = sentinel.as_ref().map(|p| p.driver());
        if let Err(msg) = crate::metrics_http::start(&shared, driver, &bind, metrics_port, backlog)
        {
            warning!("{msg}");
            return 1;
        }
    }
    if let Some(pending) = sentinel {
        notice!("Running mode=sentinel, port={port}.");
        crate::sentinel_startup::start(pending, &shared);
    } else {
        notice!("Running mode=standalone, port={port}.");
        warning!("Server initialized");
        // The dataset loads while the listeners already accept: clients get LOADING until
        // it is in (Redis 7.0). A failed load stops the server with exit code 1.
        let sh = shared.clone();
        let failed = load_failed.clone();
        tokio::task::spawn_local(async move {
            if let Err(code) = crate::loading::load_dataset(sh.clone()).await {
                failed.set(Some(code));
                sh.stop.notify_one();
            }
        });
    }
    let signals = tokio::task::spawn_local(watch_signals(shared.clone()));
    server::run(shared.clone(), listeners).await;
    signals.abort();
    if let Some(code) = load_failed.get() {
        return code;
    }
    finish_shutdown(&shared, &pidfile, &unixsocket);
    0
}

async fn watch_signals(shared: Rc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    let msg = if shared.engine.borrow().loading.is_some() {
        "Received shutdown signal during loading, scheduling shutdown.".to_string()
    } else {
        format!("Received {name} scheduling shutdown...")
    };
    log::raw(&format!(
        "{}:signal-handler ({}) {msg}",
        std::process::id(),
        log::now_ms() / 1000,
    ));
    shared.stop.notify_one();
}

fn finish_shutdown(shared: &Rc<Shared>, pidfile: &str, unixsocket: &str) {
    // "User requested shutdown..." is the engine's first line of `shutdown_save`.
    {
        // SHUTDOWN already saved (or failed and replied); a signal saves here when save
        // points are configured (prepareForShutdown without flags).
        let mut eng = shared.engine.borrow_mut();
        if eng.shutdown.is_none() {
            let now = log::now_ms();
            let _ = eng.shutdown_save(None, false, now);
        }
    }
    if let Some(aof) = shared.aof.borrow_mut().as_mut() {
        aof.close();
    }
    if !pidfile.is_empty() {
        notice!("Removing the pid file.");
        let _ = std::fs::remove_file(pidfile);
    }
    if !unixsocket.is_empty() {
        notice!("Removing the unix socket file.");
        let _ = std::fs::remove_file(unixsocket);
    }
    if shared.engine.borrow().sentinel.is_some() {
        warning!("Sentinel is now ready to exit, bye bye...");
    } else {
        warning!("Redis is now ready to exit, bye bye...");
    }
}

/// `uname -s -r -m`, as INFO's `os` field, read from /proc so no libc call is needed.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} {} {}",
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

fn run_id(seed: u64) -> String {
    let mut rng = redoubt_keyspace::rand::Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

/// Forks into the background as `daemonize yes` asks: the parent exits, the child
/// continues in a new session with stdio on /dev/null.
fn daemonize() -> std::io::Result<()> {
    crate::sys::daemonize()
}

/// Reads the configuration named on the command line. On error returns Redis's report
/// (`*** FATAL CONFIG FILE ERROR ***` and friends), to be printed on stderr.
pub fn load(args: &ServerArgs) -> Result<Loaded, String> {
    let table = redoubt_engine::table::Table::build();
    let exists = |name: &[u8]| {
        std::str::from_utf8(name)
            .map(|n| table.get(&n.to_ascii_lowercase()).is_some())
            .unwrap_or(false)
    };
    let mut env = redoubt_config::fsio::FsEnv {
        sentinel_mode: false,
        command_exists: Some(&exists),
        check_user: None,
    };
    let config =
        redoubt_config::fsio::load_server_config(args, &mut env).map_err(|e| e.to_string())?;
    let config_file = match &args.config_file {
        Some(f) => redoubt_config::fsio::absolute_path(f).unwrap_or_else(|_| f.clone()),
        None => String::new(),
    };
    Ok(Loaded {
        conf: RuntimeConf::from_config(&config),
        settings: Settings::from_config(&config),
        config_file,
        config,
    })
}
