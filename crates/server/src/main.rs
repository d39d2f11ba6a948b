//! `redoubt-server [config-file] [--directive value ...]`, as `redis-server`.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(redoubt_server::startup::main(args));
}
