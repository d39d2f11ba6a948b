//! LCS (Redis 7.0 t_string.c `lcsCommand`): the longest common subsequence of two strings,
//! by the classic dynamic-programming table, walked back from the end to emit the string or
//! the matching ranges. The table is transient and limited, as in Redis, to
//! `proto-max-bulk-len` bytes of u32 cells.

use crate::commands::strings::{c_eq, StrKey};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::num::string2ll;
use redoubt_keyspace::value::itoa_buf;
use redoubt_keyspace::Value;

fn lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> StrKey {
    match ctx.lookup_read(key) {
        None => StrKey::Missing,
        Some(e) => match &e.value {
            Value::Str(_) => StrKey::Found,
            #[allow(unreachable_patterns)]
            _ => StrKey::WrongType,
        },
    }
}

fn value_of(ctx: &Ctx<'_>, key: &[u8]) -> Vec<u8> {
    let db = ctx.client.db;
    let mut tmp = itoa_buf::Buf::default();
    crate::commands::strings::str_bytes(&ctx.eng.dbs[db], key, &mut tmp).to_vec()
}

pub fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (ka, kb) = (lookup(ctx, &argv[1]), lookup(ctx, &argv[2]));
    if ka == StrKey::WrongType || kb == StrKey::WrongType {
        ctx.error("ERR The specified keys must contain string values");
        return;
    }
    let a = value_of(ctx, &argv[1]);
    let b = value_of(ctx, &argv[2]);
    let (mut get_len, mut get_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j];
        let more = argv.len() - 1 - j;
        if c_eq(opt, "IDX") {
            get_idx = true;
        } else if c_eq(opt, "LEN") {
            get_len = true;
        } else if c_eq(opt, "WITHMATCHLEN") {
            with_match_len = true;
        } else if c_eq(opt, "MINMATCHLEN") && more > 0 {
            let Some(n) = string2ll(&argv[j + 1]) else {
                ctx.error(errors::NOT_INTEGER);
                return;
            };
            min_match_len = n.max(0);
            j += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    if get_idx && get_len {
        ctx.error("ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        ctx.error("ERR String too long for LCS");
        return;
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.eng.conf.proto_max_bulk_len as u64 {
        ctx.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    let table = LcsTable::build(&a, &b);
    let total = table.at(a.len(), b.len());
    let out = &mut ctx.client.out;
    if get_len {
        out.int(i64::from(total));
        return;
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut matches = 0usize;
    let mut deferred = None;
    if get_idx {
        out.map_len(2);
        out.bulk(b"matches");
        deferred = Some(out.begin_deferred());
    }
    // Walk back from the end; a range of contiguous matches is emitted when it ends.
    let (mut i, mut k) = (a.len(), b.len());
    let mut range: Option<(usize, usize, usize, usize)> = None; // a_start, a_end, b_start, b_end
    while i > 0 && k > 0 {
        let mut emit = false;
        if a[i - 1] == b[k - 1] {
            result[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, k - 1, k - 1)),
                Some(r) if r.0 == i && r.2 == k => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            if range.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            k -= 1;
        } else {
            if table.at(i - 1, k) > table.at(i, k - 1) {
                i -= 1;
            } else {
                k -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some((a0, a1, b0, b1)) = range.take() {
                let len = (a1 - a0 + 1) as i64;
                if get_idx && (min_match_len == 0 || len >= min_match_len) {
                    out.array_len(2 + usize::from(with_match_len));
                    out.array_len(2);
                    out.int(a0 as i64);
                    out.int(a1 as i64);
                    out.array_len(2);
                    out.int(b0 as i64);
                    out.int(b1 as i64);
                    if with_match_len {
                        out.int(len);
                    }
                    matches += 1;
                }
            }
        }
    }
    match deferred {
        Some(at) => {
            out.bulk(b"len");
            out.int(i64::from(total));
            out.end_deferred_array(at, matches);
        }
        None => out.bulk(&result),
    }
}

/// LCS lengths of every prefix pair, `(a.len()+1) x (b.len()+1)` u32 cells.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

impl LcsTable {
    fn build(a: &[u8], b: &[u8]) -> Self {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            let (prev, cur) = cells.split_at_mut(i * width);
            let prev = &prev[(i - 1) * width..];
            let cur = &mut cur[..width];
            for k in 1..width {
                cur[k] = if a[i - 1] == b[k - 1] {
                    prev[k - 1] + 1
                } else {
                    prev[k].max(cur[k - 1])
                };
            }
        }
        LcsTable { cells, width }
    }

    fn at(&self, i: usize, k: usize) -> u32 {
        self.cells[i * self.width + k]
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[("lcs", lcs)];
