//! Redis 7.0's error replies, byte for byte. Every refusal a client can see is built here.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const STRING_TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

pub fn wrong_args(fullname: &str) -> String {
    format!("ERR wrong number of arguments for '{fullname}' command")
}

pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

pub fn unknown_subcommand(sub: &[u8], container: &str) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand '".to_vec();
    out.extend_from_slice(c_bytes_trunc(sub, 128));
    out.extend_from_slice(format!("'. Try {} HELP.", container.to_ascii_uppercase()).as_bytes());
    out
}

/// `%.<max>s` of a C string, as bytes: stops at NUL, keeps at most `max` bytes.
pub fn c_bytes_trunc(s: &[u8], max: usize) -> &[u8] {
    let end = memchr_nul(s).unwrap_or(s.len()).min(max);
    &s[..end]
}

/// `%.<max>s` of a C string: stops at NUL, keeps at most `max` bytes, invalid UTF-8 lossy.
pub fn c_str_trunc(s: &[u8], max: usize) -> String {
    let end = memchr_nul(s).unwrap_or(s.len()).min(max);
    String::from_utf8_lossy(&s[..end]).into_owned()
}

fn memchr_nul(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == 0)
}

/// Redis 7.0's unknown-command error, with up to 128 bytes of quoted arguments, the bytes
/// as the client sent them.
pub fn unknown_command(argv: &[bytes::Bytes]) -> Vec<u8> {
    let mut args: Vec<u8> = Vec::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_bytes_trunc(a, room));
        args.extend_from_slice(b"' ");
    }
    let mut out = b"ERR unknown command '".to_vec();
    out.extend_from_slice(c_bytes_trunc(&argv[0], 128));
    out.extend_from_slice(b"', with args beginning with: ");
    out.extend_from_slice(&args);
    out
}

/// `addReplySubcommandSyntaxError`: a known subcommand with the wrong arguments.
pub fn subcommand_syntax(sub: &[u8], container: &str) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    out.extend_from_slice(c_bytes_trunc(sub, 128));
    out.extend_from_slice(format!("'. Try {} HELP.", container.to_ascii_uppercase()).as_bytes());
    out
}

/// `addReplyHelp`: the header line, the command's own lines, then the HELP entry.
pub fn write_help(out: &mut redoubt_resp::ReplyBuf, container: &str, lines: &[&str]) {
    out.array_len(lines.len() + 3);
    out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_ascii_uppercase()
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

pub const READONLY_REPLICA: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
