fn main() -> std::process::ExitCode {
    tokgateway_gatewayd::main()
}
