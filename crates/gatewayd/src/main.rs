// mimalloc, asked for plain blocks where it can (see the allocator's docs).
#[global_allocator]
static GLOBAL: tokgateway_gatewayd::Allocator = tokgateway_gatewayd::Allocator;

fn main() -> std::process::ExitCode {
    tokgateway_gatewayd::main()
}
