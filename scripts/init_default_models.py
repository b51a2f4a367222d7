#!/usr/bin/env python3
"""Random-init starting points of the bundled default models, in the Hugging Face layout.

No pretrained Mamba is reachable from here (shared/spec/artifacts.md), so both default models
start from random weights: a small Mamba (GPT-NeoX tokenizer, as mamba-130m) and a small BERT
cross-encoder (the all-MiniLM-L6-v2 WordPiece tokenizer). Needs torch and transformers.
Usage: python3 scripts/init_default_models.py OUT BERT_TOKENIZER_JSON
"""
import os, shutil, sys

import torch
from transformers import BertConfig, BertModel, MambaConfig, MambaModel

out, bert_tokenizer = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
MambaModel(MambaConfig(vocab_size=50280, hidden_size=64, num_hidden_layers=6, state_size=16, expand=2, conv_kernel=4)).save_pretrained(f"{out}/mamba")
shutil.copy(f"{here}/../tests/fixtures/tiny-hf/tokenizer.json", f"{out}/mamba/")
BertModel(BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256), add_pooling_layer=True).save_pretrained(f"{out}/bert")
shutil.copy(bert_tokenizer, f"{out}/bert/tokenizer.json")
