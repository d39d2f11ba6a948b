//! Redis 7.0's multi-part AOF manifest (`aof.c`: `aofLoadManifestFromFile`,
//! `getAofManifestAsString`): one line per file, `file <name> seq <n> type <b|h|i>`, the base
//! first, then history files, then the incremental files in order. Lines starting with `#`
//! are comments. Names with spaces or quotes are refused (Redis quotes them; we never create
//! such names, and `appendfilename` may not contain them).

/// What a file is to the AOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The snapshot the increments apply to (an RDB or an AOF).
    Base,
    /// A file replaced by a rewrite, waiting to be deleted.
    History,
    /// Commands appended after the base, in order.
    Incr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incr: Vec<AofFile>,
}

/// Why a manifest was refused, with Redis's wording.
pub type ManifestError = String;

impl Manifest {
    /// Parses a manifest file's text.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let text = std::str::from_utf8(text).map_err(|_| "Invalid AOF manifest file format")?;
        let mut m = Manifest::default();
        let mut lines = 0;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            lines += 1;
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            if words.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks_exact(2) {
                match kv[0] {
                    "file" => name = Some(kv[1].to_string()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => {
                        kind = match kv[1] {
                            "b" => Some(Kind::Base),
                            "h" => Some(Kind::History),
                            "i" => Some(Kind::Incr),
                            _ => None,
                        }
                    }
                    // Unknown keys are skipped, as Redis does (forward compatibility).
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') || name.contains('"') || name.contains('\'') {
                return Err("Invalid AOF manifest file format".into());
            }
            let f = AofFile { name, seq, kind };
            match kind {
                Kind::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(f);
                }
                Kind::History => m.history.push(f),
                Kind::Incr => {
                    if m.incr.last().is_some_and(|l| l.seq >= f.seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr.push(f);
                }
            }
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |f: &AofFile, out: &mut String| {
            let t = match f.kind {
                Kind::Base => "b",
                Kind::History => "h",
                Kind::Incr => "i",
            };
            out.push_str(&format!("file {} seq {} type {t}\n", f.name, f.seq));
        };
        if let Some(b) = &self.base {
            line(b, &mut out);
        }
        for f in self.history.iter().chain(&self.incr) {
            line(f, &mut out);
        }
        out
    }

    /// Files to load, in order: the base, then the increments.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incr.iter())
    }

    /// The next incremental file's name and sequence (`appendonly.aof.<n>.incr.aof`).
    pub fn next_incr(&self, basename: &str) -> AofFile {
        let seq = self.incr.last().map_or(1, |f| f.seq + 1);
        AofFile {
            name: format!("{basename}.{seq}.incr.aof"),
            seq,
            kind: Kind::Incr,
        }
    }

    /// A new base file (`appendonly.aof.<n>.base.rdb` or `.base.aof`).
    pub fn next_base(&self, basename: &str, rdb: bool) -> AofFile {
        let seq = self.base.as_ref().map_or(1, |f| f.seq + 1);
        let ext = if rdb { "rdb" } else { "aof" };
        AofFile {
            name: format!("{basename}.{seq}.base.{ext}"),
            seq,
            kind: Kind::Base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_redis_manifests() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).expect("valid");
        assert_eq!(
            m.base.as_ref().map(|b| b.name.as_str()),
            Some("appendonly.aof.1.base.rdb")
        );
        assert_eq!(m.incr.len(), 1);
        assert_eq!(m.render().as_bytes(), text);
        assert_eq!(
            m.next_incr("appendonly.aof").name,
            "appendonly.aof.2.incr.aof"
        );
        assert_eq!(
            m.next_base("appendonly.aof", false).name,
            "appendonly.aof.2.base.aof"
        );
    }

    #[test]
    fn refuses_bad_manifests() {
        for bad in [
            &b""[..],
            b"# only a comment\n",
            b"file a seq 1\n",
            b"file a seq x type b\n",
            b"file a seq 1 type z\n",
            b"file a seq 1 type b\nfile b seq 2 type b\n",
            b"file a seq 2 type i\nfile b seq 1 type i\n",
            b"file ../x seq 1 type i\n",
            b"\xff\xfe",
        ] {
            assert!(
                Manifest::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
