//! Template token ids equal Python `transformers` on the GPT-NeoX tokenizer: unicode, emoji,
//! whitespace runs, `<|endoftext|>` inside a document, over-long and empty documents, in exact
//! and compat modes.

mod common;
use common::*;
use rankmamba::tokenizer::{Mode, PairTemplate};

#[test]
fn template_ids_match_transformers() {
    let t = PairTemplate::from_file(&fixtures().join("tokenizer/tokenizer.json")).unwrap();
    let cases = expected()["template"].as_array().unwrap();
    assert!(cases.len() > 30);
    for c in cases {
        let (q, d) = (c["query"].as_str().unwrap(), c["document"].as_str().unwrap());
        let (max_length, mode) = if c.get("compat").is_some() {
            (512, Mode::RankMambaV1)
        } else {
            (c["max_length"].as_u64().unwrap() as usize, Mode::Exact)
        };
        let got = t.encode_pair(q, d, max_length, mode).unwrap();
        assert_eq!(got, ids(&c["input_ids"]), "query {q:?}, document {d:?}, max_length {max_length}, {mode}");
        assert_eq!(*got.last().unwrap(), t.eos_id, "ends with <|endoftext|>");
    }
}

#[test]
fn long_documents_are_cut_to_the_budget() {
    let t = PairTemplate::from_file(&fixtures().join("tokenizer/tokenizer.json")).unwrap();
    let doc = "word ".repeat(2000);
    let ids = t.encode_pair("q", &doc, 512, Mode::Exact).unwrap();
    assert!(ids.len() <= 512 && ids.len() > 462, "{}", ids.len());
    let compat = t.encode_pair("q", &doc, 512, Mode::RankMambaV1).unwrap();
    assert!(compat.len() <= 768);
    assert!(t.encode_pair("q", "d", 50, Mode::Exact).is_err());
}

#[test]
fn golden_ids_of_the_artifact_spec() {
    let t = PairTemplate::from_file(&fixtures().join("tokenizer/tokenizer.json")).unwrap();
    let ids = t.encode_text("Hello world! Mamba is a state-space model for document reranking.").unwrap();
    assert_eq!(ids, vec![12092, 1533, 2, 353, 31834, 310, 247, 1375, 14, 5641, 1566, 323, 3389, 294, 47883, 15]);
    assert_eq!(t.encode_text("<|endoftext|>").unwrap(), vec![0]);
}
