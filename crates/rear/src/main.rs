fn main() -> std::process::ExitCode {
    rear::main_with_args(std::env::args_os())
}
