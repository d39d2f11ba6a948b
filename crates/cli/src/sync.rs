//! Acting as a replica: `--rdb <file>` (save the master's snapshot) and `--replica` / the SYNC
//! command (skip the snapshot, then print every command the master streams, in CSV), with
//! redis-cli 7.0's `sendSync`, `getRDB` and `slaveMode` messages.

use crate::conn::{os_message, Conn, ConnError};
use crate::modes::io_error;
use crate::render;
use redoubt_resp::Value;
use std::io::Write;

/// Size of the `EOF:<mark>` end marker of a diskless transfer.
const EOF_MARK: usize = 40;

/// `REPLCONF` announcements before SYNC; errors are reported but not fatal (older servers).
fn replconf(c: &mut Conn, a: &str, b: &str) -> Result<(), u8> {
    eprint!("sending REPLCONF {a} {b}\n");
    match c.call(&["REPLCONF", a, b]) {
        Err(_) => Err(io_error()),
        Ok(Value::Error(e)) => {
            eprint!("REPLCONF {a} error: {e}\n");
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// How the payload is delimited: a byte count, or the 40-byte mark that ends it.
enum Payload {
    Sized(u64),
    Marked(Vec<u8>),
}

/// `sendSync`: sends SYNC (unless the user's own SYNC/PSYNC already went out) and reads the
/// `$<len>` or `$EOF:<mark>` line, skipping the master's newline keepalives.
fn sync_header(c: &mut Conn, send_sync: bool) -> Result<Payload, u8> {
    if send_sync && c.write_all(b"SYNC\r\n").is_err() {
        eprint!("Error writing to master\n");
        return Err(1);
    }
    loop {
        let line = match c.read_line() {
            Ok(l) => l,
            Err(_) => {
                eprint!("Error reading bulk length while SYNCing\n");
                return Err(1);
            }
        };
        let line = String::from_utf8_lossy(&line)
            .trim_start_matches('\n')
            .to_string();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('-') {
            eprint!("SYNC with master failed: {line}\n");
            return Err(1);
        }
        let body = line.get(1..).unwrap_or_default();
        // PSYNC answers +FULLRESYNC first; the payload line follows.
        if body.starts_with("FULLRESYNC") {
            continue;
        }
        if let Some(m) = body.strip_prefix("EOF:").filter(|m| m.len() >= EOF_MARK) {
            return Ok(Payload::Marked(m.as_bytes()[..EOF_MARK].to_vec()));
        }
        return Ok(Payload::Sized(crate::opts::atoi(body).max(0) as u64));
    }
}

/// Copies the payload to `sink`; returns its length. Bytes after it stay in the connection.
fn transfer(c: &mut Conn, payload: &Payload, sink: &mut dyn Write) -> Result<u64, u8> {
    let mut written: u64 = 0;
    // The last bytes written, to find a mark split across reads.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let mut pending = c.take_buffered();
        if pending.is_empty() {
            match c.fill() {
                Ok(0) | Err(_) => {
                    eprint!("I/O Error reading RDB payload from socket\n");
                    return Err(1);
                }
                Ok(_) => pending = c.take_buffered(),
            }
        }
        let (take, done) = match payload {
            Payload::Sized(len) => {
                let t = (pending.len() as u64).min(len - written) as usize;
                (t, written + t as u64 == *len)
            }
            Payload::Marked(m) => {
                let mut window = tail.clone();
                window.extend_from_slice(&pending);
                match window.windows(EOF_MARK).position(|w| w == &m[..]) {
                    Some(i) => (i + EOF_MARK - tail.len(), true),
                    None => (pending.len(), false),
                }
            }
        };
        if let Err(e) = sink.write_all(&pending[..take]) {
            eprint!("Error writing data to file: {}\n", os_message(&e));
            return Err(1);
        }
        written += take as u64;
        tail.extend_from_slice(&pending[..take]);
        if tail.len() > EOF_MARK {
            tail.drain(..tail.len() - EOF_MARK);
        }
        c.push_back(&pending[take..]);
        if done {
            return Ok(written);
        }
    }
}

/// `--rdb <file>`: fetch a snapshot as a replica would (SYNC), `-` meaning stdout.
pub fn rdb(c: &mut Conn, file: &str) -> u8 {
    for (a, b) in [("capa", "eof"), ("rdb-only", "1")] {
        if let Err(code) = replconf(c, a, b) {
            return code;
        }
    }
    let payload = match sync_header(c, true) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match &payload {
        Payload::Marked(_) => eprint!(
            "SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{file}'\n"
        ),
        Payload::Sized(n) => eprint!("SYNC sent to master, writing {n} bytes to '{file}'\n"),
    }
    let to_stdout = file == "-";
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(file)
        {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprint!("Error opening '{file}': {}\n", os_message(&e));
                return 1;
            }
        }
    };
    let written = match transfer(c, &payload, &mut sink) {
        Ok(n) => n,
        Err(code) => return code,
    };
    let _ = sink.flush();
    drop(sink);
    let size = match payload {
        Payload::Marked(_) => written.saturating_sub(EOF_MARK as u64),
        Payload::Sized(_) => written,
    };
    if !to_stdout {
        // The mark is not part of the file; fsync before reporting success, as redis-cli.
        let r = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .and_then(|f| {
                f.set_len(size)?;
                f.sync_all()
            });
        if let Err(e) = r {
            eprint!("Fail to fsync '{file}': {}\n", os_message(&e));
            return 1;
        }
    }
    match payload {
        Payload::Marked(_) => eprint!("Transfer finished with success after {size} bytes\n"),
        Payload::Sized(_) => eprint!("Transfer finished with success.\n"),
    }
    0
}

/// `--replica` (`send_sync`) or after the user's SYNC/PSYNC: skip the snapshot, then print
/// each command of the replication stream in CSV until the link drops.
pub fn replica(c: &mut Conn, send_sync: bool) -> u8 {
    if send_sync {
        // An empty snapshot is enough: only the stream that follows is shown.
        for (a, b) in [("capa", "eof"), ("rdb-filter-only", "")] {
            if let Err(code) = replconf(c, a, b) {
                return code;
            }
        }
    }
    let payload = match sync_header(c, send_sync) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match &payload {
        Payload::Marked(_) => {
            eprint!("SYNC with master, discarding bytes of bulk transfer until EOF marker...\n")
        }
        Payload::Sized(n) => {
            eprint!("SYNC with master, discarding {n} bytes of bulk transfer...\n")
        }
    }
    let written = match transfer(c, &payload, &mut std::io::sink()) {
        Ok(n) => n,
        Err(code) => return code,
    };
    match payload {
        Payload::Marked(_) => {
            // redis-cli counts the mark here (unlike --rdb's file size).
            eprint!("SYNC done after {written} bytes. Logging commands from master.\n");
            // After a diskless transfer the master waits for a first ACK before it
            // streams. redis-cli sends it as an ordinary command and takes the first
            // streamed command (usually SELECT) as its reply, so that one is never shown; we
            // do the same so the output is the same.
            // An ACK that arrives before the master has finished its side of the transfer is
            // ignored, so it is repeated each second until the stream starts.
            eprint!("sending REPLCONF ACK 0\n");
            c.set_read_timeout(Some(std::time::Duration::from_secs(1)));
            loop {
                if c.send(&["REPLCONF", "ACK", "0"]).is_err() {
                    return io_error();
                }
                match c.read_reply() {
                    Ok(Value::Error(e)) => {
                        eprint!("REPLCONF ACK error: {e}\n");
                        break;
                    }
                    Ok(_) => break,
                    Err(ConnError::Io(e))
                        if e.contains("temporarily") || e.contains("timed out") => {}
                    Err(_) => return io_error(),
                }
            }
            c.set_read_timeout(None);
        }
        Payload::Sized(_) => eprint!("SYNC done. Logging commands from master.\n"),
    }
    loop {
        match c.read_reply() {
            Ok(v) => {
                let mut out = Vec::new();
                if render::csv(&mut out, &v).is_err() {
                    eprint!("Unknown reply type: 13\n");
                    return 1;
                }
                out.push(b'\n');
                let mut so = std::io::stdout().lock();
                let _ = so.write_all(&out);
                let _ = so.flush();
            }
            Err(ConnError::Io(e)) | Err(ConnError::Protocol(e)) => {
                eprint!("Error: {e}\n");
                return 1;
            }
        }
    }
}
