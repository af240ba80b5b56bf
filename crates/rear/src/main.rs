fn main() -> std::process::ExitCode {
    // In the rescue system `/init` is a link to this binary: as PID 1 (or when called as `init`)
    // it is the rescue system's init, which never returns.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let called_as_init = std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "init");
    if std::process::id() == 1 || called_as_init {
        rear_core::rescue::init::run_init(&rear_core::cmd::SystemRunner::new());
    }
    rear::main_with_args(std::env::args_os())
}
