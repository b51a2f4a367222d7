//! The RankMamba input template over the GPT-NeoX tokenizer (`tokenizer.json`).
//!
//! Exact mode (the default, = RankMamba's training template):
//! `"Document: " + doc` is tokenized, cut to `max_length - 50` tokens, decoded back to text
//! (special tokens skipped, transformers' clean-up of spaces before punctuation), then
//! `decoded + "\n\nQuery: " + query + "<|endoftext|>"` is tokenized in one pass. No BOS.
//!
//! Compat mode (`rankmamba-v1`, the released evaluation code): the document budget is the
//! hard-coded 718 tokens, the query prefix is `"[query]"` (the released eval bug), and the whole
//! sequence is cut at 768 tokens.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

pub const DOC_PREFIX: &str = "Document: ";
pub const QUERY_PREFIX: &str = "Query: ";
pub const COMPAT_QUERY_PREFIX: &str = "[query]";
pub const EOS: &str = "<|endoftext|>";
/// Tokens kept free for the query in exact mode (`max_length - 50` for the document).
pub const QUERY_RESERVE: usize = 50;
pub const COMPAT_DOC_BUDGET: usize = 718;
pub const COMPAT_MAX_LEN: usize = 768;

/// Which template/padding convention to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Training template everywhere; scores independent of the batch.
    #[default]
    Exact,
    /// Reproduces the released RankMamba evaluation code (template and left padding with id 0).
    RankMambaV1,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(Mode::Exact),
            "rankmamba-v1" => Ok(Mode::RankMambaV1),
            other => Err(Error::Input(format!("unknown compat mode `{other}` (expected `exact` or `rankmamba-v1`)"))),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Exact => "exact",
            Mode::RankMambaV1 => "rankmamba-v1",
        })
    }
}

/// The tokenizer plus the pair template of the decoder-style rerankers.
#[derive(Clone)]
pub struct PairTemplate {
    tokenizer: Tokenizer,
    pub eos_id: u32,
    pub path: PathBuf,
}

impl PairTemplate {
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// `path` only names the source in errors (the browser hands bytes).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::Tokenizer { path: path.to_path_buf(), msg: format!("not a valid tokenizer.json: {e}") })?;
        // the file's own padding/truncation would change the template; we do both ourselves
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer { path: path.to_path_buf(), msg: e.to_string() })?;
        let eos_id = tokenizer.token_to_id(EOS).ok_or_else(|| Error::Tokenizer {
            path: path.to_path_buf(),
            msg: format!("has no `{EOS}` token: not a GPT-NeoX tokenizer"),
        })?;
        Ok(Self { tokenizer, eos_id, path: path.to_path_buf() })
    }

    /// Largest id the tokenizer can produce.
    pub fn max_id(&self) -> u32 {
        let vocab = self.tokenizer.get_vocab(true);
        vocab.values().copied().max().unwrap_or(0)
    }

    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer { path: self.path.clone(), msg: format!("encoding failed: {e}") })?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text = self
            .tokenizer
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer { path: self.path.clone(), msg: format!("decoding failed: {e}") })?;
        Ok(clean_up_tokenization(&text))
    }

    /// Token ids for one (query, document) pair.
    pub fn encode_pair(&self, query: &str, document: &str, max_length: usize, mode: Mode) -> Result<Vec<u32>> {
        let (budget, qprefix) = match mode {
            Mode::Exact => {
                if max_length <= QUERY_RESERVE {
                    return Err(Error::Input(format!("max_length {max_length} must be larger than {QUERY_RESERVE}")));
                }
                (max_length - QUERY_RESERVE, QUERY_PREFIX)
            }
            Mode::RankMambaV1 => (COMPAT_DOC_BUDGET, COMPAT_QUERY_PREFIX),
        };
        let mut doc_ids = self.encode_text(&format!("{DOC_PREFIX}{document}"))?;
        doc_ids.truncate(budget);
        let doc_text = self.decode(&doc_ids)?;
        let mut ids = self.encode_text(&format!("{doc_text}\n\n{qprefix}{query}{EOS}"))?;
        if mode == Mode::RankMambaV1 {
            ids.truncate(COMPAT_MAX_LEN);
        }
        Ok(ids)
    }
}

/// Pair encoding of the encoder cross-encoders (BERT WordPiece): `[CLS] query [SEP] document
/// [SEP]` from the tokenizer file's own post-processor, token type ids 0 then 1, truncation
/// `longest_first` to `max_length` (the file's own padding and truncation are ignored).
#[derive(Clone)]
pub struct PairEncoder {
    tokenizer: Tokenizer,
    pub path: PathBuf,
    pub max_length: usize,
}

impl PairEncoder {
    pub fn from_file(path: &Path, max_length: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes, max_length)
    }

    pub fn from_bytes(path: &Path, bytes: &[u8], max_length: usize) -> Result<Self> {
        use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy};
        let err = |msg: String| Error::Tokenizer { path: path.to_path_buf(), msg };
        let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| err(format!("not a valid tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| err(e.to_string()))?;
        Ok(Self { tokenizer, path: path.to_path_buf(), max_length })
    }

    /// Largest id the tokenizer can produce.
    pub fn max_id(&self) -> u32 {
        self.tokenizer.get_vocab(true).values().copied().max().unwrap_or(0)
    }

    /// RankMamba's encoder template (its compat mode): `"[query]" + query + "[SEP]" +
    /// "[passage]" + document` tokenized as one sequence (`[CLS] … [SEP]`, token types all 0),
    /// cut at `max_length`.
    pub fn encode_rankmamba(&self, query: &str, document: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let text = format!("[query]{query}[SEP][passage]{document}");
        let enc = self
            .tokenizer
            .encode(text.as_str(), true)
            .map_err(|e| Error::Tokenizer { path: self.path.clone(), msg: format!("encoding failed: {e}") })?;
        Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec()))
    }

    /// (token ids, token type ids) of one (query, document) pair. An empty document encodes
    /// the query alone, as transformers does for an empty `text_pair`.
    pub fn encode_pair(&self, query: &str, document: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let input: tokenizers::EncodeInput =
            if document.is_empty() { query.into() } else { (query, document).into() };
        let enc = self
            .tokenizer
            .encode(input, true)
            .map_err(|e| Error::Tokenizer { path: self.path.clone(), msg: format!("encoding failed: {e}") })?;
        Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec()))
    }
}

/// transformers' `clean_up_tokenization` (4.39, RankMamba's pin): drop the space before
/// punctuation and English contractions. transformers >= 5 no longer applies it to BPE
/// tokenizers, but the released checkpoints were trained with it.
pub fn clean_up_tokenization(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_up_matches_transformers() {
        assert_eq!(clean_up_tokenization("It is n't here , is it ? Yes ! We 're ok ."), "It isn't here, is it? Yes! We're ok.");
        assert_eq!(clean_up_tokenization("a ' b"), "a'b");
    }

    #[test]
    fn mode_parses() {
        assert_eq!("rankmamba-v1".parse::<Mode>().unwrap(), Mode::RankMambaV1);
        assert!("v2".parse::<Mode>().unwrap_err().to_string().contains("v2"));
    }
}
