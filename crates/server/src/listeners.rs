//! Listening sockets: opening them from `bind`/`port`/`unixsocket` at startup, and
//! rebinding after CONFIG SET of `port` or `bind`.
//!
//! `bind` takes several addresses; a `-` prefix makes one optional (skipped if it cannot be
//! bound), `*` is every IPv4 address and `::*` every IPv6 one. Port 0 disables TCP.
//! Rebinding keeps the listeners whose address is still wanted, opens the new ones first,
//! and only then closes the unwanted: a failure leaves the old set serving, as Redis's
//! `changeListener` does.

use crate::log::{self, Level};
use crate::server::Settings;
use std::net::{IpAddr, SocketAddr};

/// Where the server listens.
pub struct Listeners {
    pub tcp: Vec<tokio::net::TcpListener>,
    pub unix: Option<(tokio::net::UnixListener, String)>,
}

/// The addresses `bind` asks for, each with its optional flag.
pub fn wanted(bind: &[String], port: u16) -> Vec<(bool, String, Option<SocketAddr>)> {
    if port == 0 {
        return vec![];
    }
    bind.iter()
        .map(|raw| {
            let (optional, addr) = match raw.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, raw.as_str()),
            };
            let host = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                a => a,
            };
            let sa = host
                .parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, port));
            (optional, addr.to_string(), sa)
        })
        .collect()
}

pub fn bind_tcp(addr: SocketAddr, backlog: i32) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    tokio::net::TcpListener::from_std(sock.into())
}

/// Opens the TCP listeners for `bind`/`port`. A required address that fails is an error
/// (startup aborts; CONFIG SET reports it).
pub fn bind_tcp_all(
    bind: &[String],
    port: u16,
    backlog: i32,
    keep: &[SocketAddr],
) -> Result<Vec<(SocketAddr, Option<tokio::net::TcpListener>)>, String> {
    let mut out = Vec::new();
    for (optional, shown, addr) in wanted(bind, port) {
        let Some(addr) = addr else {
            if optional {
                continue;
            }
            return Err(format!("Invalid bind address '{shown}'"));
        };
        if keep.contains(&addr) {
            out.push((addr, None));
            continue;
        }
        match bind_tcp(addr, backlog) {
            Ok(l) => out.push((addr, Some(l))),
            Err(e) if optional => {
                log::log(
                    Level::Verbose,
                    &format!("Skipping optional bind {addr}: {e}"),
                );
            }
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {shown}:{port}: {e}"
                ));
            }
        }
    }
    Ok(out)
}

/// Opens every listener at startup.
pub fn bind_all(s: &Settings) -> Result<Listeners, String> {
    let tcp = bind_tcp_all(&s.bind, s.port, s.tcp_backlog, &[])
        .map_err(|e| format!("{e}\nFailed listening on port {} (tcp), aborting.", s.port))?
        .into_iter()
        .filter_map(|(_, l)| l)
        .collect::<Vec<_>>();
    let unix = if s.unixsocket.is_empty() {
        None
    } else {
        let _ = std::fs::remove_file(&s.unixsocket);
        let l = tokio::net::UnixListener::bind(&s.unixsocket)
            .map_err(|e| format!("Failed opening Unix socket: {e}"))?;
        if s.unixsocketperm != 0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                &s.unixsocket,
                std::fs::Permissions::from_mode(s.unixsocketperm),
            );
        }
        Some((l, s.unixsocket.clone()))
    };
    if tcp.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    Ok(Listeners { tcp, unix })
}
