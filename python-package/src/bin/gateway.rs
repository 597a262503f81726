//! `gateway` as shipped in the Python wheel: the same entry point as crates/gateway.
fn main() -> std::process::ExitCode {
    tokgateway_gateway::main()
}
