#!/usr/bin/python3
"""PyTorch reference for scripts/bench-train.sh: the same model, data, batch,
optimizer and thread count as the hpcai run, timed the same way.

Reads an hpcai dataset directory (manifest.json + HDF5 shards, see
docs/data-format.md) with h5py into memory, then trains for --steps steps
(the first --warmup steps are not timed) and prints one JSON line:
  {"impl": "torch", "mode": ..., "samples_per_sec": ..., "peak_rss_mb": ..., ...}

Modes:
  single : one process, torch.set_num_threads(--threads)
  ddp    : --ranks processes, DistributedDataParallel over gloo, each with
           --threads threads and global batch / ranks samples per step

Thread settings that torch does not control (OPENBLAS_NUM_THREADS,
OMP_WAIT_POLICY) are taken from the environment; bench-train.sh tries
several and keeps the best, as the reference deserves.
"""
import argparse
import json
import os
import resource
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_dataset(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        m = json.load(f)
    xs, ys = [], []
    for shard in m["shards"]:
        with h5py.File(os.path.join(directory, shard["file"]), "r") as h:
            xs.append(h[m.get("x", "x")][...])
            ys.append(h[m.get("y", "y")][...])
    x = np.concatenate(xs).astype(np.float32)
    if m["dtype"] == "uint8":
        x = x * np.float32(m.get("scale", 1.0)) + np.float32(m.get("offset", 0.0))
    y = np.concatenate(ys).astype(np.int64)
    shape = [int(d) for d in m["sample_shape"]]
    return torch.from_numpy(x.reshape([-1] + shape)), torch.from_numpy(y), int(m["num_classes"]), shape


class MLP(nn.Module):
    def __init__(self, inputs, hidden, classes):
        super().__init__()
        dims = [inputs] + hidden
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(dims[-1], classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


class CNN(nn.Module):
    """conv(3x3, pad 1) + relu + maxpool(2) per conv spec, then dense layers."""

    def __init__(self, shape, convs, hidden, classes):
        super().__init__()
        c, h, w = shape
        layers = []
        for filters in convs:
            layers += [nn.Conv2d(c, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = filters, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        dims = [c * h * w] + hidden
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(dims[-1], classes)

    def forward(self, x):
        x = self.features(x).flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


def build(args, shape, classes):
    hidden = [int(v) for v in args.hidden.split(",") if v]
    if args.model == "mlp":
        return MLP(int(np.prod(shape)), hidden, classes)
    convs = [int(v) for v in args.conv.split(",") if v]
    return CNN(shape, convs, hidden, classes)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train(rank, world, args, out_queue=None):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y, classes, shape = load_dataset(args.data)
    model = build(args, shape, classes)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(args.port))
        torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    n = x.shape[0]
    local = args.batch // world
    g = torch.Generator().manual_seed(args.seed)
    perm = torch.randperm(n, generator=g)
    pos = 0
    t0 = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if world > 1:
                torch.distributed.barrier()
            t0 = time.perf_counter()
        if pos + args.batch > n:
            perm = torch.randperm(n, generator=g)
            pos = 0
        idx = perm[pos + rank * local: pos + (rank + 1) * local]
        pos += args.batch
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    if world > 1:
        torch.distributed.barrier()
    dt = time.perf_counter() - t0
    result = {"rank": rank, "seconds": dt, "peak_rss_mb": peak_rss_mb(), "loss": float(loss)}
    if world > 1:
        torch.distributed.destroy_process_group()
    if out_queue is not None:
        out_queue.put(result)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="hpcai dataset directory (train split)")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--hidden", default="512,256")
    p.add_argument("--conv", default="32,64")
    p.add_argument("--batch", type=int, default=256, help="global batch")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mode", choices=["single", "ddp"], default="single")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--port", type=int, default=29533)
    p.add_argument("--seed", type=int, default=1234)
    args = p.parse_args()

    if args.mode == "single":
        r = train(0, 1, args)
        ranks = 1
        seconds = r["seconds"]
        rss = [r["peak_rss_mb"]]
    else:
        import torch.multiprocessing as mp
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        procs = [ctx.Process(target=train, args=(r, args.ranks, args, q)) for r in range(args.ranks)]
        for proc in procs:
            proc.start()
        results = [q.get() for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                sys.exit("torch_ref.py: a DDP rank failed")
        ranks = args.ranks
        seconds = max(r["seconds"] for r in results)
        rss = [r["peak_rss_mb"] for r in sorted(results, key=lambda r: r["rank"])]
    out = {
        "impl": "torch", "mode": args.mode, "model": args.model, "ranks": ranks, "threads": args.threads,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "batch": args.batch, "steps": args.steps,
        "samples_per_sec": args.steps * args.batch / seconds,
        "peak_rss_mb": rss, "torch": torch.__version__,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
