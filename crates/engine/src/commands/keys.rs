//! Generic key commands (Redis 7.0 db.c, expire.c).

use crate::ctx::Ctx;
use crate::table::Handler;
use bytes::Bytes;

/// DEL and UNLINK: same effect here (values are freed synchronously; both are cheap).
fn del_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], name: &[u8]) {
    let db = ctx.client.db;
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.delete(db, key) {
            ctx.propagate(&[name, key]);
            n += 1;
        }
    }
    ctx.dirty(n as u64);
    ctx.out().int(n);
}

pub fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    del_generic(ctx, argv, b"DEL");
}

pub fn unlink(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    del_generic(ctx, argv, b"UNLINK");
}

pub fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.lookup_read(key).is_some() {
            n += 1;
        }
    }
    ctx.out().int(n);
}

pub fn type_(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let name = ctx
        .lookup_read(&argv[1])
        .map_or("none", |e| e.value.type_name());
    ctx.out().simple(name);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", unlink),
    ("exists", exists),
    ("type", type_),
];
