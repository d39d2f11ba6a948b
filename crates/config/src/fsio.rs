//! The file-system side of configuration: reading the config file, stdin and `include`d files
//! the way Redis's `loadServerConfig` does, `chdir` for `dir`, and `CONFIG REWRITE`'s atomic
//! replacement of the file (`rewriteConfigOverwriteFile`).
//!
//! This is the one module of the crate that touches `std::fs` and the process's working
//! directory; everything else is pure. The server uses it directly, tests use temp dirs.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::argv::{assemble_config_text, ServerArgs};
use crate::parse::{LoadEnv, LoadError};
use crate::rewrite::{rewrite_config_text, RewriteOptions};
use crate::values::Config;
use redoubt_keyspace::glob::glob_match as string_match;

/// `strerror(errno)` for an I/O error: Rust's message without its " (os error N)" suffix.
pub fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// What Redis's `fgets`-and-`sdscat` loop keeps of a file: it reads chunks of up to 1024
/// bytes ending at a newline and appends each as a C string, so every byte from a NUL to the
/// end of its chunk (newline included) is lost.
pub fn c_text(bytes: &[u8]) -> Vec<u8> {
    const CONFIG_READ_LEN: usize = 1024;
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let limit = rest.len().min(CONFIG_READ_LEN);
        let len = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |n| n + 1);
        let chunk = &rest[..len];
        out.extend_from_slice(chunk.split(|&b| b == 0).next().unwrap_or_default());
        rest = &rest[len..];
    }
    out
}

fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

fn open_error(path: &[u8], err: &io::Error) -> LoadError {
    LoadError::OpenFile {
        path: String::from_utf8_lossy(path).into_owned(),
        reason: strerror(err),
    }
}

/// Reads a config file or, if the path has `*`, `?` or `[`, every file matching it (sorted,
/// concatenated; no match gives no text), as `loadServerConfig` does.
pub fn read_config_path(path: &[u8]) -> Result<Vec<u8>, LoadError> {
    if !path.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        let bytes = std::fs::read(path_of(path)).map_err(|e| open_error(path, &e))?;
        return Ok(c_text(&bytes));
    }
    let mut text = Vec::new();
    for file in glob_paths(path) {
        let bytes = std::fs::read(path_of(&file)).map_err(|e| open_error(&file, &e))?;
        text.extend_from_slice(&c_text(&bytes));
    }
    Ok(text)
}

/// A small `glob(3)` (flags 0): expands each wildcard component against the directory,
/// leading dots only by an explicit dot, results sorted bytewise.
fn glob_paths(pattern: &[u8]) -> Vec<Vec<u8>> {
    let absolute = pattern.first() == Some(&b'/');
    let mut found: Vec<Vec<u8>> = vec![if absolute { b"/".to_vec() } else { Vec::new() }];
    let components: Vec<&[u8]> = pattern
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    for (i, comp) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let mut next = Vec::new();
        for base in &found {
            let join = |name: &[u8]| {
                let mut p = base.clone();
                if !p.is_empty() && !p.ends_with(b"/") {
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                p
            };
            if !comp.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                let p = join(comp);
                if path_of(&p).symlink_metadata().is_ok() {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.is_empty() {
                PathBuf::from(".")
            } else {
                path_of(base)
            };
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<Vec<u8>> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned().into_bytes())
                .filter(|n| comp.first() == Some(&b'.') || n.first() != Some(&b'.'))
                .filter(|n| string_match(comp, n, false))
                .collect();
            names.sort();
            for name in names {
                let p = join(&name);
                if last || path_of(&p).is_dir() {
                    next.push(p);
                }
            }
        }
        found = next;
    }
    found
}

/// Tells whether a command exists (before renames).
pub type CommandExists<'a> = &'a dyn Fn(&[u8]) -> bool;
/// Checks a `user` line; the error names the offending argument's index and the message.
pub type CheckUser<'a> = &'a dyn Fn(&[Vec<u8>]) -> Result<(), (usize, String)>;

/// A [`LoadEnv`] over the real file system and process. The command table and ACL checks
/// are the server's; plug them in with the fields.
#[derive(Default)]
pub struct FsEnv<'a> {
    pub sentinel_mode: bool,
    /// Whether a command exists (before renames); `None` accepts every name.
    pub command_exists: Option<CommandExists<'a>>,
    /// Checks a `user` line; `None` accepts every line.
    pub check_user: Option<CheckUser<'a>>,
}

impl LoadEnv for FsEnv<'_> {
    fn read_include(&mut self, path: &[u8]) -> Result<Vec<u8>, LoadError> {
        read_config_path(path)
    }

    fn chdir(&mut self, dir: &[u8]) -> Result<String, String> {
        std::env::set_current_dir(path_of(dir)).map_err(|e| strerror(&e))?;
        let cwd = std::env::current_dir().map_err(|e| strerror(&e))?;
        Ok(cwd.to_string_lossy().into_owned())
    }

    fn command_exists(&mut self, name: &[u8]) -> bool {
        self.command_exists.is_none_or(|f| f(name))
    }

    fn check_user(&mut self, argv: &[Vec<u8>]) -> Result<(), (usize, String)> {
        match self.check_user {
            Some(f) => f(argv),
            None => Ok(()),
        }
    }

    fn check_logfile(&mut self, path: &[u8]) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path_of(path))
            .map(drop)
            .map_err(|e| strerror(&e))
    }

    fn sentinel_mode(&self) -> bool {
        self.sentinel_mode
    }
}

/// Loads the configuration a `redis-server` command line asks for: the file (its path as
/// given, resolved against the current directory), stdin when asked, then the options.
/// Records the working directory for `CONFIG GET dir`.
pub fn load_server_config(args: &ServerArgs, env: &mut dyn LoadEnv) -> Result<Config, LoadError> {
    let mut cfg = Config::new();
    if let Ok(cwd) = std::env::current_dir() {
        cfg.set_dir_resolved(cwd.to_string_lossy().into_owned());
    }
    if !args.load {
        return Ok(cfg);
    }
    let file = match &args.config_file {
        Some(path) => Some(read_config_path(path.as_bytes())?),
        None => None,
    };
    let stdin = if args.config_from_stdin {
        let mut bytes = Vec::new();
        io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| LoadError::OpenFile {
                path: "-".into(),
                reason: strerror(&e),
            })?;
        Some(c_text(&bytes))
    } else {
        None
    };
    let text = assemble_config_text(file.as_deref(), stdin.as_deref(), &args.options);
    let origin = args.config_file.as_deref().unwrap_or("(command line)");
    cfg.load_text(&text, origin, env)?;
    Ok(cfg)
}

/// Redis's `getAbsolutePath`: a relative path joined to the current directory, with leading
/// `../` components resolved against it.
pub fn absolute_path(path: &str) -> io::Result<String> {
    let path = path.trim_matches(|c| matches!(c, ' ' | '\r' | '\n' | '\t'));
    if path.starts_with('/') {
        return Ok(path.to_owned());
    }
    let mut cwd = std::env::current_dir()?.to_string_lossy().into_owned();
    let mut rel = path;
    while let Some(rest) = rel.strip_prefix("../") {
        rel = rest;
        if cwd.len() > 1 {
            match cwd.trim_end_matches('/').rfind('/') {
                Some(0) => cwd.truncate(1),
                Some(at) => cwd.truncate(at),
                None => {}
            }
        }
    }
    if !cwd.ends_with('/') {
        cwd.push('/');
    }
    Ok(cwd + rel)
}

/// Replaces `path` with `content` atomically (`rewriteConfigOverwriteFile`): a temporary
/// file `<path>.XXXXXX` beside it, written, fsynced, made mode 0644, renamed over `path`;
/// removed again on failure. Redis masks the mode with its umask; we cannot read the umask
/// without libc and use 0644 as is.
pub fn write_config_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let (tmp, mut file) = create_temp_beside(path)?;
    let result = (|| {
        file.write_all(content)?;
        file.sync_all()?;
        set_mode_0644(&file)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn set_mode_0644(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_mode_0644(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

fn create_temp_beside(path: &Path) -> io::Result<(PathBuf, std::fs::File)> {
    use std::hash::{BuildHasher, Hasher};
    let mut attempt = 0u64;
    loop {
        // mkstemp's six characters; a fresh RandomState is randomly keyed.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(attempt);
        h.write_u32(std::process::id());
        let n = h.finish();
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let suffix: String = (0..6)
            .map(|i| CHARS[((n >> (i * 8)) % CHARS.len() as u64) as usize] as char)
            .collect();
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{suffix}"));
        let tmp = PathBuf::from(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// `CONFIG REWRITE` of the file at `path`: reads it (a missing file counts as empty),
/// rewrites it and replaces it atomically. Reply with [`rewrite_error_reply`] on error.
pub fn rewrite_config_file(path: &Path, cfg: &Config, opts: &RewriteOptions<'_>) -> io::Result<()> {
    let old = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    write_config_atomic(path, &rewrite_config_text(&old, cfg, opts))
}

/// The error reply for a failed rewrite: `ERR Rewriting config file: <strerror>`.
pub fn rewrite_error_reply(err: &io::Error) -> String {
    format!("ERR Rewriting config file: {}", strerror(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_text() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&err), "No such file or directory");
        assert_eq!(
            rewrite_error_reply(&err),
            "ERR Rewriting config file: No such file or directory"
        );
    }

    #[test]
    fn c_text_drops_after_nul_to_end_of_chunk() {
        // "port 1\0 junk\n" loses " junk\n", so the next line joins it, as in Redis.
        assert_eq!(c_text(b"a\nport 1\0 junk\nb\n"), b"a\nport 1b\n");
        let long = vec![b'x'; 1500];
        assert_eq!(c_text(&long).len(), 1500);
    }

    #[test]
    fn read_and_glob_include() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).expect("mkdir");
        std::fs::write(d.join("conf.d/b.conf"), "maxmemory 2mb\n").expect("write");
        std::fs::write(d.join("conf.d/a.conf"), "maxmemory 1mb\nport 7001\n").expect("write");
        std::fs::write(d.join("conf.d/.hidden.conf"), "port 1\n").expect("write");
        let pattern = format!("{}/conf.d/*.conf", d.display());
        assert_eq!(
            read_config_path(pattern.as_bytes()).expect("glob"),
            b"maxmemory 1mb\nport 7001\nmaxmemory 2mb\n"
        );
        let none = format!("{}/none*.conf", d.display());
        assert_eq!(
            read_config_path(none.as_bytes()).expect("no match is fine"),
            b""
        );
        let missing = format!("{}/missing.conf", d.display());
        let err = read_config_path(missing.as_bytes()).expect_err("missing");
        assert_eq!(
            err.to_string(),
            format!("Fatal error, can't open config file '{missing}': No such file or directory")
        );
        let text = format!("include {pattern}\n");
        let mut cfg = Config::new();
        cfg.load_text(text.as_bytes(), "t", &mut FsEnv::default())
            .expect("loads");
        assert_eq!(cfg.get_int("maxmemory"), 2 << 20);
        assert_eq!(cfg.get_int("port"), 7001);
    }

    #[test]
    fn load_from_argv() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("r.conf");
        std::fs::write(&file, "maxmemory 1mb\nport 7000\n").expect("write");
        let file = file.to_string_lossy().into_owned();
        let argv = [
            "redis-server",
            file.as_str(),
            "--port",
            "7001",
            "--save",
            "",
        ];
        let crate::Invocation::Run(args) = crate::parse_server_args(&argv) else {
            panic!()
        };
        let cfg = load_server_config(&args, &mut FsEnv::default()).expect("loads");
        assert_eq!(cfg.get_int("port"), 7001);
        assert_eq!(cfg.get_int("maxmemory"), 1 << 20);
        assert!(cfg.save_points().is_empty());
        assert!(!cfg.dir().is_empty());
        // The option lines are numbered after the file's lines plus the joining newline.
        let argv = ["redis-server", file.as_str(), "--foo", "bar"];
        let crate::Invocation::Run(args) = crate::parse_server_args(&argv) else {
            panic!()
        };
        let err = load_server_config(&args, &mut FsEnv::default()).expect_err("bad option");
        assert!(
            err.to_string().contains("at line 4\n>>> 'foo \"bar\"'\n"),
            "{err}"
        );
        assert!(absolute_path("/x/y").expect("abs") == "/x/y");
        assert!(absolute_path("y.conf").expect("abs").ends_with("/y.conf"));
    }

    #[test]
    fn atomic_rewrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("redis.conf");
        std::fs::write(&path, "# keep me\nmaxmemory 1mb\n").expect("write");
        let mut cfg = crate::parse::parse_config_text(b"maxmemory 1mb\n", "t").expect("loads");
        cfg.set_dir_resolved("/data".into());
        let args: [&[u8]; 2] = [b"maxmemory", b"3mb"];
        cfg.config_set(&args, &crate::SetContext::default())
            .expect("set");
        rewrite_config_file(&path, &cfg, &RewriteOptions::default()).expect("rewrite");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# keep me\nmaxmemory 3mb\n"), "{text}");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temp file left behind");
        let err = rewrite_config_file(
            &dir.path().join("no/such/dir.conf"),
            &cfg,
            &RewriteOptions::default(),
        );
        assert!(err.is_err());
    }
}
