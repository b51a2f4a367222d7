#!/usr/bin/env python3
"""Copy a checkpoint directory with its float32 tensors stored as float16 (for shipping).
Usage: python3 scripts/to_f16.py SRC_DIR DST_DIR     (needs numpy and safetensors)"""
import json, os, shutil, sys

import numpy as np
from safetensors.numpy import load_file, save_file

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
tensors = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in load_file(f"{src}/model.safetensors").items()}
save_file(tensors, f"{dst}/model.safetensors.tmp", metadata={"format": "pt"})
os.replace(f"{dst}/model.safetensors.tmp", f"{dst}/model.safetensors")
config = json.load(open(f"{src}/config.json"))
config["torch_dtype"] = "float16"
if "dtype" in config:  # transformers >= 4.56 writes `dtype`
    config["dtype"] = "float16"
json.dump(config, open(f"{dst}/config.json", "w"), indent=2)
shutil.copy(f"{src}/tokenizer.json", f"{dst}/tokenizer.json")
