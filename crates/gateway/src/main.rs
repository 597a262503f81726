fn main() -> std::process::ExitCode {
    tokgateway_gateway::main()
}
