//! `train`: fine-tune a reranker (see `train --help` and `src/train/`). Also `rankmamba train`.

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    rankmamba::cli::train_main()
}

// the crate also builds for wasm32 (the npm package); training is native only
#[cfg(target_family = "wasm")]
fn main() {}
