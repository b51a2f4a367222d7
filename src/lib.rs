//! # rankmamba
//!
//! Document reranking with Mamba (selective state-space models), after RankMamba
//! (Zhichao Xu, arXiv 2403.18276): a pretrained Mamba backbone plus one linear head on the
//! last token of `"Document: " + doc + "\n\nQuery: " + query + "<|endoftext|>"`.
//!
//! ```no_run
//! use rankmamba::{DeviceChoice, Reranker};
//! let ranker = Reranker::load("models/boolq-mamba", DeviceChoice::Cpu)?;
//! let ranked = ranker.rank("what is mamba?", &["Mamba is a state space model.", "Paris is in France."], None)?;
//! println!("best: {} ({})", ranked[0].index, ranked[0].score);
//! # Ok::<(), rankmamba::Error>(())
//! ```
//!
//! Layout: [`models`] (one file per architecture), [`ops`] (tensor ops with their reference
//! implementations), [`loader`] (checkpoint files), [`tokenizer`] (the input template),
//! [`reranker`] (the public API), [`device`] (backend choice), `cli` (the `rankmamba` binary), `web` (the wasm-bindgen API
//! under the npm package in `pkg/`).

#[cfg(not(target_family = "wasm"))]
pub mod cli;
pub mod device;
pub mod error;
pub mod eval;
pub mod loader;
pub mod models;
pub mod ops;
pub mod reranker;
pub mod tokenizer;
#[cfg(not(target_family = "wasm"))]
pub mod train;
#[cfg(target_family = "wasm")]
pub mod web;

pub use device::DeviceChoice;
pub use error::{Error, Result};
pub use reranker::{rank_scores, ModelInfo, Ranked, Reranker, RerankerOptions};
pub use tokenizer::Mode;
