//! The `cfsecrets` binary: everything lives in the library; see `cfsecrets::commands::main`.

fn main() -> std::process::ExitCode {
    cfsecrets::commands::main()
}
