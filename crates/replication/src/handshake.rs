//! The replica's side of the handshake: what to send, and how to read the master's answers
//! (`syncWithMaster`, `slaveTryPartialResynchronization`, `readSyncBulkPayload`).

/// The `PSYNC` arguments: the cached master's ID and the next offset, or `? -1`.
pub fn psync_args(cached: Option<(&str, u64)>) -> [String; 3] {
    match cached {
        Some((id, offset)) => ["PSYNC".into(), id.to_string(), (offset + 1).to_string()],
        None => ["PSYNC".into(), "?".into(), "-1".into()],
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// `+FULLRESYNC <replid> <offset>`.
    FullResync { replid: String, offset: u64 },
    /// `+CONTINUE [<new replid>]`.
    Continue { new_replid: Option<String> },
    /// `-NOMASTERLINK` / `-LOADING`: try again later, keeping the cached master.
    TryLater(String),
    /// Any other error: the master does not speak PSYNC, or refused.
    Error(String),
}

/// Reads the master's reply line to PSYNC (without the CRLF).
pub fn parse_psync_reply(line: &str) -> PsyncReply {
    if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_ascii_whitespace();
        if let (Some(id), Some(off)) = (it.next(), it.next()) {
            if id.len() == 40 {
                if let Ok(offset) = off.parse::<u64>() {
                    return PsyncReply::FullResync {
                        replid: id.to_string(),
                        offset,
                    };
                }
            }
        }
        return PsyncReply::Error(format!(
            "Master replied with wrong +FULLRESYNC syntax: {line}"
        ));
    }
    if let Some(rest) = line.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let new_replid = (id.len() == 40).then(|| id.to_string());
        return PsyncReply::Continue { new_replid };
    }
    if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") {
        return PsyncReply::TryLater(line.to_string());
    }
    PsyncReply::Error(line.to_string())
}

/// How the RDB payload is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `$<len>`: exactly this many bytes follow.
    Len(u64),
    /// `$EOF:<mark>`: bytes follow until the 40-byte mark.
    Eof([u8; 40]),
}

/// Parses the `$...` line announcing the RDB (without CRLF); `None` when malformed.
pub fn parse_payload_header(line: &[u8]) -> Option<Payload> {
    let rest = line.strip_prefix(b"$")?;
    if let Some(mark) = rest.strip_prefix(b"EOF:") {
        return <[u8; 40]>::try_from(mark).ok().map(Payload::Eof);
    }
    std::str::from_utf8(rest)
        .ok()?
        .parse()
        .ok()
        .map(Payload::Len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+FULLRESYNC {id} 42")),
            PsyncReply::FullResync {
                replid: id.clone(),
                offset: 42
            }
        );
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")),
            PsyncReply::Continue {
                new_replid: Some(id.clone())
            }
        );
        assert_eq!(
            parse_psync_reply("+CONTINUE"),
            PsyncReply::Continue { new_replid: None }
        );
        assert!(matches!(
            parse_psync_reply("+FULLRESYNC x"),
            PsyncReply::Error(_)
        ));
        assert!(matches!(
            parse_psync_reply("-NOMASTERLINK Can't SYNC while not connected with my master"),
            PsyncReply::TryLater(_)
        ));
        assert_eq!(parse_payload_header(b"$12"), Some(Payload::Len(12)));
        assert_eq!(
            parse_payload_header(&[b"$EOF:".as_slice(), &[b'x'; 40]].concat()),
            Some(Payload::Eof([b'x'; 40]))
        );
        assert_eq!(parse_payload_header(b"$EOF:short"), None);
        assert_eq!(parse_payload_header(b"+x"), None);
        assert_eq!(psync_args(Some((&id, 9)))[2], "10");
        assert_eq!(psync_args(None)[1], "?");
    }
}
