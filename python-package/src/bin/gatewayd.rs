//! `gatewayd` as shipped in the Python wheel: the same entry point and
//! allocator as crates/gatewayd.
#[global_allocator]
static GLOBAL: tokgateway_gatewayd::Allocator = tokgateway_gatewayd::Allocator;

fn main() -> std::process::ExitCode {
    tokgateway_gatewayd::main()
}
