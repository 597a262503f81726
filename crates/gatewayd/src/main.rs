// mimalloc: the request path allocates many small, short-lived buffers, and
// glibc's allocator spends measurably more CPU (and lock contention across
// worker threads) on them; see bench/RESULTS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tokgateway_gatewayd::main()
}
