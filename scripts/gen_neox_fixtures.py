#!/usr/bin/env python3
"""Regenerate the GPT-NeoX decoder-twin parity fixtures with Hugging Face `transformers`.

    python3 scripts/gen_neox_fixtures.py

Two tiny random `GPTNeoXModel`s + a linear head on the last position, with the GPT-NeoX
tokenizer and the Mamba reranker's template (scripts/gen_fixtures.py): tests/fixtures/tiny-neox
(parallel residual, 2 of 5 head dims rotated, `gpt_neox.` + `classifier.*`) and
tests/fixtures/tiny-neox-seq (sequential residual, full rotary, head dim 8 so wgpu runs the WGSL attention, RankMamba's `base_model.` +
`regressor.classifier.*`). Scores one pair at a time into tests/fixtures/neox_expected.json.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXModel, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import FIX, PAIRS, TOKENIZER, template_ids  # noqa: E402


def build(seed, hidden, heads, inter, rotary, parallel):
    torch.manual_seed(seed)
    cfg = GPTNeoXConfig(vocab_size=50280, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=heads,
                        intermediate_size=inter, max_position_embeddings=2048, use_parallel_residual=parallel,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": rotary})
    model = GPTNeoXModel(cfg).eval()
    head = torch.nn.Linear(hidden, 1)
    with torch.no_grad():
        for n, p in list(model.named_parameters()) + [("head." + k, v) for k, v in head.named_parameters()]:
            if "layernorm" in n or "layer_norm" in n:
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if n.endswith("weight") else 0.0))
            elif p.dim() == 2:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5 * (1.0 if "embed_in" not in n else p.shape[-1] ** 0.5))
            else:
                p.copy_(torch.randn_like(p) * 0.2)
    return cfg, model, head


def main():
    tok = PreTrainedTokenizerFast(tokenizer_file=TOKENIZER)
    expected = {}
    for name, seed, hidden, heads, inter, rotary, parallel, prefix, head_key in [
        ("tiny-neox", 5, 20, 4, 37, 0.4, True, "gpt_neox.", "classifier."),
        ("tiny-neox-seq", 6, 24, 3, 29, 1.0, False, "base_model.", "regressor.classifier."),  # head dim 8: the WGSL kernel path
    ]:
        cfg, model, head = build(seed, hidden, heads, inter, rotary, parallel)
        d = os.path.join(FIX, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        sd = {prefix + k: v for k, v in model.state_dict().items()}
        sd[head_key + "weight"] = head.weight.detach()
        sd[head_key + "bias"] = head.bias.detach()
        save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        conf = cfg.to_dict()
        conf["architectures"] = ["GPTNeoXModel"]
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(conf, f, indent=2, sort_keys=True)
        shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.json"))
        cases = []
        with torch.no_grad():
            for q, doc in PAIRS:
                if not q:
                    continue
                ids = template_ids(tok, q, doc, 512)
                h = model(torch.tensor([ids])).last_hidden_state
                cases.append({"query": q, "document": doc, "max_length": 512, "input_ids": ids,
                              "score": float(head(h[:, -1])[0, 0])})
        expected[name] = cases
    with open(os.path.join(FIX, "neox_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print("wrote", FIX, file=sys.stderr)


if __name__ == "__main__":
    main()
