//! `gatewayd` as shipped in the Python wheel: the same entry point and
//! allocator as crates/gatewayd.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tokgateway_gatewayd::main()
}
