#!/usr/bin/env python3
"""Regenerate the BERT cross-encoder parity fixtures with Hugging Face `transformers`.

    bash scripts/fetch_minilm.sh && python3 scripts/gen_bert_fixtures.py

- tests/fixtures/tiny-bert: a tiny random `BertForSequenceClassification` (num_labels = 1,
  odd sizes, max_position 64) in the `bert.` + `classifier.*` layout, with the MiniLM WordPiece
  tokenizer; tests/fixtures/tiny-bert-rankmamba: the same encoder as RankMamba saves it
  (`base_model.` + `regressor.classifier.*`, head on the [CLS] hidden state).
- tests/fixtures/tiny-electra: a tiny random `ElectraForSequenceClassification` (embeddings
  narrower than the encoder, so `embeddings_project` is used; dense → GELU → out_proj head).
- tests/fixtures/minilm-head: a seeded random head for the real all-MiniLM-L6-v2 weights
  (fetched, not committed), loaded as `BertForSequenceClassification.from_pretrained(...,
  num_labels=1)` (its pooler from the checkpoint).
Expected scores are computed one pair at a time (no padding) into tests/fixtures/bert_expected.json.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import (BertConfig, BertForSequenceClassification, ElectraConfig, ElectraForSequenceClassification,
                          PreTrainedTokenizerFast)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
MINILM = os.environ.get("RANKMAMBA_MINILM", os.path.expanduser("~/.cache/rankmamba/all-MiniLM-L6-v2"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import PAIRS  # noqa: E402  the same strings as the Mamba fixtures

CASES = [(q, d) for q, d in PAIRS if q]


def tokenize(tok, q, d, max_length):
    return tok(q, d, truncation="longest_first", max_length=max_length, return_tensors="pt", return_token_type_ids=True)


@torch.no_grad()
def scores(tok, fn, max_length):
    out = []
    for q, d in CASES:
        enc = tokenize(tok, q, d, max_length)
        out.append({"query": q, "document": d, "max_length": max_length, "input_ids": enc["input_ids"][0].tolist(),
                    "token_type_ids": enc["token_type_ids"][0].tolist(), "score": float(fn(enc))})
    return out


@torch.no_grad()
def randomize(model):
    # unit-gain weights and non-trivial norms, so scores spread well beyond the tolerance
    for n, p in model.named_parameters():
        if "LayerNorm" in n:
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if n.endswith("weight") else 0.0))
        elif p.dim() == 2:
            p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
        else:
            p.copy_(torch.randn_like(p) * 0.2)
    return model


def write_dir(name, sd, config, tokenizer):
    d = os.path.join(FIX, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    shutil.copy(tokenizer, os.path.join(d, "tokenizer.json"))


def main():
    tok_file = os.path.join(MINILM, "tokenizer.json")
    tok = PreTrainedTokenizerFast(tokenizer_file=tok_file)
    expected = {}

    torch.manual_seed(11)
    cfg = BertConfig(vocab_size=30522, hidden_size=15, num_hidden_layers=2, num_attention_heads=3, intermediate_size=23,
                     max_position_embeddings=64, type_vocab_size=2, num_labels=1, hidden_act="gelu")
    model = randomize(BertForSequenceClassification(cfg).eval())
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    conf = cfg.to_dict()
    conf["architectures"] = ["BertForSequenceClassification"]
    write_dir("tiny-bert", sd, conf, tok_file)
    expected["tiny-bert"] = scores(tok, lambda e: model(**e).logits[0, 0], 64) + scores(tok, lambda e: model(**e).logits[0, 0], 24)
    # RankMamba layout: classifier on the [CLS] hidden state, no pooler use
    rsd = {("base_model." + k[len("bert."):]): v for k, v in sd.items() if k.startswith("bert.")}
    rsd["regressor.classifier.weight"] = sd["classifier.weight"]
    rsd["regressor.classifier.bias"] = sd["classifier.bias"]
    write_dir("tiny-bert-rankmamba", rsd, conf, tok_file)
    cls = lambda e: model.classifier(model.bert(**e).last_hidden_state[:, 0])[0, 0]  # noqa: E731
    expected["tiny-bert-rankmamba"] = scores(tok, cls, 64)
    # RankMamba's encoder template (its compat mode): one sequence "[query]q[SEP][passage]d"
    compat = []
    with torch.no_grad():
        for q, doc in CASES:
            enc = tok("[query]" + q + "[SEP]" + "[passage]" + doc, truncation=True, max_length=64, return_tensors="pt",
                      return_token_type_ids=True)
            compat.append({"query": q, "document": doc, "max_length": 64, "input_ids": enc["input_ids"][0].tolist(),
                           "token_type_ids": enc["token_type_ids"][0].tolist(), "score": float(cls(enc))})
    expected["tiny-bert-rankmamba-compat"] = compat

    torch.manual_seed(12)
    ecfg = ElectraConfig(vocab_size=30522, embedding_size=10, hidden_size=15, num_hidden_layers=2, num_attention_heads=3,
                         intermediate_size=23, max_position_embeddings=64, num_labels=1, hidden_act="gelu")
    electra = randomize(ElectraForSequenceClassification(ecfg).eval())
    esd = {k: v for k, v in electra.state_dict().items() if not k.endswith("position_ids")}
    econf = ecfg.to_dict()
    econf["architectures"] = ["ElectraForSequenceClassification"]
    write_dir("tiny-electra", esd, econf, tok_file)
    expected["tiny-electra"] = scores(tok, lambda e: electra(**e).logits[0, 0], 64)

    torch.manual_seed(0)
    real = BertForSequenceClassification.from_pretrained(MINILM, num_labels=1).eval()
    with torch.no_grad():  # a unit-scale head, so scores spread well beyond the tolerance
        real.classifier.weight.copy_(torch.randn_like(real.classifier.weight))
        real.classifier.bias.copy_(torch.randn_like(real.classifier.bias) * 0.1)
    d = os.path.join(FIX, "minilm-head")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    save_file({"classifier.weight": real.classifier.weight.detach().contiguous(),
               "classifier.bias": real.classifier.bias.detach().contiguous()}, os.path.join(d, "head.safetensors"))
    expected["minilm"] = scores(tok, lambda e: real(**e).logits[0, 0], 512) + scores(tok, lambda e: real(**e).logits[0, 0], 40)
    with open(os.path.join(FIX, "bert_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print("wrote", FIX, file=sys.stderr)


if __name__ == "__main__":
    main()
