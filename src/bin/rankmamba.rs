//! `rankmamba`: see `rankmamba --help` and `src/cli.rs`.

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    rankmamba::cli::main()
}

// the crate also builds for wasm32 (the npm package); the CLI is native only
#[cfg(target_family = "wasm")]
fn main() {}
