#!/usr/bin/python3
"""Load an hpcai checkpoint (docs/checkpoint-format.md) into a PyTorch state_dict.

Uses only h5py, numpy and torch (no hpcai code) -- the interoperability check
for the checkpoint format.  Verifies the magic, the `complete` marker and every
tensor's CRC-32C, then maps the MLP's dense layers onto the MLP of
scripts/bench/torch_ref.py (hidden.<i>.weight/bias, out.weight/bias):

    /usr/bin/python3 scripts/ckpt_to_torch.py RUN/checkpoints/ckpt-500.h5 --out mlp.pt [--check-mlp]

Tensor names: an optional "params/" or "model/" prefix, then "<layer>.weight"
or "<layer>.bias" with layers dense0, dense1, ... in forward order (the
runtime's Param names).  Optimizer state (other prefixes) is skipped.
--check-mlp builds torch_ref.MLP with the shapes found and loads the
state_dict with strict=True (raises on any mismatch).
"""
import argparse
import json
import re
import sys

import h5py
import numpy as np


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), table driven: plain Python, fine for MLP-sized tensors."""
    table = crc32c.table
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


crc32c.table = _make_table()


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path, verify=True):
    f = h5py.File(path, "r")
    if attr_str(f.attrs.get("magic", b"")) != "hpcai-checkpoint":
        raise SystemExit(f"{path}: not an hpcai checkpoint")
    if int(f.attrs.get("complete", 0)) != 1:
        raise SystemExit(f"{path}: incomplete checkpoint (no complete marker)")
    names = json.loads(attr_str(f.attrs["tensor_names"]))
    tensors = {}
    for name in names:
        d = f["tensors/" + name]
        a = np.ascontiguousarray(d[()], dtype="<f4")
        if verify and crc32c(a.tobytes()) != int(d.attrs["crc32c"]):
            raise SystemExit(f"{path}: tensor {name!r} fails its CRC-32C")
        tensors[name] = a
    meta = {k: (attr_str(v) if isinstance(v, (bytes, str)) else v.item() if hasattr(v, "item") else v)
            for k, v in f.attrs.items()}
    return tensors, meta


def to_mlp_state_dict(tensors):
    import torch
    layers = {}
    for name, a in tensors.items():
        base = re.sub(r"^(params|model)/", "", name)
        m = re.fullmatch(r"dense(\d+)\.(weight|bias)", base)
        if m:
            layers.setdefault(int(m.group(1)), {})[m.group(2)] = a
    if not layers:
        raise SystemExit("no dense<i>.weight/bias tensors found")
    order = sorted(layers)
    sd = {}
    for k, i in enumerate(order):
        key = "out" if k == len(order) - 1 else f"hidden.{k}"
        sd[f"{key}.weight"] = torch.from_numpy(layers[i]["weight"].copy())
        sd[f"{key}.bias"] = torch.from_numpy(layers[i]["bias"].copy())
    return sd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--out", help="torch.save the state_dict here")
    ap.add_argument("--check-mlp", action="store_true", help="load into torch_ref.MLP with strict=True")
    ap.add_argument("--no-verify", action="store_true", help="skip the CRC-32C checks")
    args = ap.parse_args()
    tensors, meta = load(args.checkpoint, verify=not args.no_verify)
    sd = to_mlp_state_dict(tensors)
    print(f"step {meta.get('step')} epoch {meta.get('epoch')}: " +
          ", ".join(f"{k} {tuple(v.shape)}" for k, v in sd.items()))
    if args.check_mlp:
        import os
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
        from torch_ref import MLP
        inputs = sd["hidden.0.weight"].shape[1] if "hidden.0.weight" in sd else sd["out.weight"].shape[1]
        hidden = [sd[f"hidden.{k}.weight"].shape[0] for k in range(len(sd) // 2 - 1)]
        model = MLP(inputs, hidden, sd["out.weight"].shape[0])
        model.load_state_dict(sd, strict=True)
        print(f"loaded into torch_ref.MLP({inputs}, {hidden}, {sd['out.weight'].shape[0]}) strict")
    if args.out:
        import torch
        torch.save(sd, args.out)


if __name__ == "__main__":
    main()
