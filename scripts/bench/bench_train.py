#!/usr/bin/python3
"""Training throughput of hpcai-train vs PyTorch, side by side in one run
(driven by scripts/bench-train.sh; see there for usage).

For every comparison the hpcai run and the reference runs alternate, each is
repeated --repeats times, and the median samples/s is compared as a ratio.
hpcai's samples/s is total samples / total step time over the logging windows
after the first (warm-up); PyTorch's is timed after --warmup steps.  Both
train Fashion-MNIST from the same converted HDF5 dataset (PyTorch loads it
into memory with h5py first), same model, batch, optimizer and threads.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        log(p.stdout[-3000:])
        log(p.stderr[-3000:])
        raise SystemExit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
    return p


MODELS = {
    "mlp": {"yaml": "{type: mlp, hidden: [512, 256]}", "torch": ["--model", "mlp", "--hidden", "512,256"]},
    "cnn": {"yaml": "{type: cnn, conv: [{filters: 32}, {filters: 64}], hidden: [128]}",
            "torch": ["--model", "cnn", "--conv", "32,64", "--hidden", "128"]},
}


def hpcai_run(args, model, ranks, threads, steps, tag, env=None):
    """One hpcai-train run; returns samples/s, data-stall share, comm share and peak RSS per rank (MB)."""
    run_dir = os.path.join(args.work, "run-%s-%dx%d-%s" % (model, ranks, threads, tag))
    subprocess.run(["rm", "-rf", run_dir], check=True)
    os.makedirs(run_dir)
    log_every = max(1, steps // 6)
    with open(os.path.join(run_dir, "spec.yaml"), "w") as f:
        f.write("""name: bench-{model}
data: {{train: {data}/train, val: null}}
model: {yaml}
optimizer: {{type: sgd, lr: 0.01, momentum: 0.9}}
schedule: {{type: constant, warmup_steps: 0}}
training: {{epochs: 100, global_batch: {batch}, seed: 1, log_every: {log_every}}}
checkpoint: {{every_steps: 0, every_minutes: 0}}
resources: {{nodes: 1, tasks_per_node: {ranks}, cpus_per_task: {threads}}}
""".format(model=model, data=args.data, yaml=MODELS[model]["yaml"], batch=args.batch, log_every=log_every,
           ranks=ranks, threads=threads))
    bind = "core" if ranks * threads <= os.cpu_count() else "none"
    cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", bind, "--map-by", "slot:PE=%d" % threads,
           "/usr/bin/time", "-f", "hpcai-rss-kb %M",
           os.path.join(args.bin, "hpcai-train"), "--run-dir", run_dir, "--max-steps", str(steps), "--quiet"]
    p = run(cmd, env=dict({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}, **(env or {})))
    rss = sorted(int(l.split()[1]) / 1024.0 for l in p.stderr.splitlines() if l.startswith("hpcai-rss-kb "))
    lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl")) if l.strip()]
    train = [l for l in lines if l.get("type") == "train"][1:]  # first window = warm-up
    samples = sum(log_every * args.batch for _ in train)
    secs = sum(log_every * args.batch / l["samples_per_sec"] for l in train)
    step_s = sum(l["data_s"] + l["compute_s"] + l["comm_s"] for l in train)
    data_s = sum(l["data_s"] for l in train)
    comm_s = sum(l["comm_s"] for l in train)
    return {"sps": samples / secs, "data_frac": data_s / step_s, "comm_frac": comm_s / step_s, "rss": rss}


def torch_run(args, model, mode, threads, openblas, steps, ranks=2):
    cmd = [PY, os.path.join(HERE, "torch_ref.py"), "--data", os.path.join(args.data, "train"),
           "--batch", str(args.batch), "--steps", str(steps), "--warmup", "10", "--threads", str(threads),
           "--lr", "0.01", "--mode", mode, "--ranks", str(ranks)] + MODELS[model]["torch"]
    env = {"OPENBLAS_NUM_THREADS": str(openblas), "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
    p = run(cmd, env=env)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"sps": r["samples_per_sec"], "rss": r["peak_rss_mb"]}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def compare(args, title, hpcai_cfg, torch_cfgs, steps):
    """Alternates hpcai and every torch config `repeats` times; returns the medians."""
    h, t = [], {name: [] for name in torch_cfgs}
    for rep in range(args.repeats):
        h.append(hpcai_run(args, *hpcai_cfg, steps, "r%d" % rep))
        for name, fn in torch_cfgs.items():
            t[name].append(fn())
        log("  %s rep %d: hpcai %.0f | %s" % (title, rep, h[-1]["sps"],
                                             " ".join("%s %.0f" % (k, v[-1]["sps"]) for k, v in t.items())))
    def peak(runs):  # per-rank peak RSS: the largest seen in any repeat
        lists = [r["rss"] for r in runs if r.get("rss")]
        return [max(col) for col in zip(*lists)] if lists else []
    hm = {"sps": median([r["sps"] for r in h]), "data_frac": median([r["data_frac"] for r in h]),
          "comm_frac": median([r["comm_frac"] for r in h]), "rss": peak(h), "all": [r["sps"] for r in h]}
    tm = {k: {"sps": median([r["sps"] for r in v]), "rss": peak(v), "all": [r["sps"] for r in v],
              "comm_frac": median([r.get("comm_frac", float("nan")) for r in v])}
          for k, v in t.items()}
    return hm, tm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--data", required=True, help="directory with train/ (hpcai dataset)")
    p.add_argument("--work", required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mlp-steps", type=int, default=300)
    p.add_argument("--cnn-steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--only", default="", help="comma list of: mlp1, mlp2, scaling, cnn")
    args = p.parse_args()
    only = set(args.only.split(",")) if args.only else {"mlp1", "mlp2", "scaling", "cnn"}
    os.makedirs(args.work, exist_ok=True)
    env_note = "OPENBLAS_CORETYPE=%s" % os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    out = ["# bench-train: %s, %d cores, load %s, %s, batch %d, median of %d alternating runs" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
        " ".join(open("/proc/loadavg").read().split()[:3]), env_note, args.batch, args.repeats), ""]
    out.append("| comparison | hpcai samples/s (median / best) | reference | reference samples/s (median / best) | ratio of medians | ratio of bests | target | hpcai peak RSS/rank MB | reference peak RSS/rank MB |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    notes = []

    def row(name, h, ref_name, ref, target, ref_best=None):
        ratio = h["sps"] / ref["sps"]
        ref_best = ref_best or max(ref["all"])
        best = max(h["all"]) / ref_best
        out.append("| %s | %.0f / %.0f | %s | %.0f / %.0f | %.2fx | %.2fx | >= %s | %s | %s |" % (
            name, h["sps"], max(h["all"]), ref_name, ref["sps"], ref_best, ratio, best, target,
            "/".join("%.0f" % r for r in h["rss"]), "/".join("%.0f" % r for r in ref["rss"])))
        return ratio

    S = args.mlp_steps
    if "mlp1" in only:
        log("MLP 784-512-256-10, single process: hpcai 1x2 vs torch best of OPENBLAS 1/2 x torch threads 1/2")
        cfgs = {}
        for ob in (1, 2):
            for tt in (1, 2):
                cfgs["ob%d-t%d" % (ob, tt)] = (lambda ob=ob, tt=tt: torch_run(args, "mlp", "single", tt, ob, S))
        h, t = compare(args, "mlp1", ("mlp", 1, 2), cfgs, S)
        best = max(t, key=lambda k: t[k]["sps"])
        row("MLP 1 process x 2 threads", h, "PyTorch single, best config (%s)" % best, t[best], "1.5x",
            ref_best=max(max(v["all"]) for v in t.values()))
        notes.append("MLP single-process PyTorch configs (samples/s): " +
                     ", ".join("%s %.0f" % (k, v["sps"]) for k, v in t.items()))
        notes.append("hpcai MLP 1x2: data stall %.1f%% of step time" % (100 * h["data_frac"]))
    if "mlp2" in only or "scaling" in only:
        log("MLP 2 ranks x 1 thread: hpcai vs torch DDP gloo; and hpcai 1x1 for scaling")
        cfgs = {"ddp": lambda: torch_run(args, "mlp", "ddp", 1, 1, S, ranks=2)}
        if "scaling" in only:
            cfgs["hpcai1x1"] = lambda: hpcai_run(args, "mlp", 1, 1, S, "s")
            # The same 2x1 run with the gradients reduced by MPI instead of the
            # node-local shared-memory path (A/B of GradientSyncOptions::shared_memory).
            cfgs["hpcai2x1-mpi"] = lambda: hpcai_run(args, "mlp", 2, 1, S, "m", env={"HPCAI_GRAD_SYNC": "mpi"})
        h2, t2 = compare(args, "mlp2", ("mlp", 2, 1), cfgs, S)
        if "mlp2" in only:
            row("MLP 2 ranks x 1 thread", h2, "PyTorch DDP gloo 2x1", t2["ddp"], "1.5x")
            notes.append("hpcai MLP 2x1: data stall %.1f%%, gradient sync not hidden %.1f%% of step time" % (
                100 * h2["data_frac"], 100 * h2["comm_frac"]))
        if "scaling" in only:
            h1 = t2["hpcai1x1"]
            eff = h2["sps"] / (2 * h1["sps"])
            eff_best = max(h2["all"]) / (2 * max(h1["all"]))
            out.append("| MLP scaling 2x1 vs 1x1 (same global batch) | %.0f / %.0f | hpcai 1x1 | %.0f / %.0f | efficiency %.2f | efficiency %.2f | >= 0.9 | | |"
                       % (h2["sps"], max(h2["all"]), h1["sps"], max(h1["all"]), eff, eff_best))
            hm = t2["hpcai2x1-mpi"]
            out.append("| MLP scaling 2x1 vs 1x1, gradients via MPI (HPCAI_GRAD_SYNC=mpi) | %.0f / %.0f | hpcai 1x1 | %.0f / %.0f | efficiency %.2f | efficiency %.2f | (A/B) | | |"
                       % (hm["sps"], max(hm["all"]), h1["sps"], max(h1["all"]), hm["sps"] / (2 * h1["sps"]),
                          max(hm["all"]) / (2 * max(h1["all"]))))
            notes.append("hpcai MLP 2x1 gradient sync not hidden: shm %.1f%%, MPI %.1f%% of step time" % (
                100 * h2["comm_frac"], 100 * hm.get("comm_frac", float("nan"))))
    if "cnn" in only:
        log("CNN: hpcai 1x2 vs torch best of OPENBLAS 1/2 with 2 threads")
        C = args.cnn_steps
        cfgs = {"ob%d-t2" % ob: (lambda ob=ob: torch_run(args, "cnn", "single", 2, ob, C)) for ob in (1, 2)}
        h, t = compare(args, "cnn", ("cnn", 1, 2), cfgs, C)
        best = max(t, key=lambda k: t[k]["sps"])
        row("CNN 1 process x 2 threads", h, "PyTorch single, best config (%s)" % best, t[best], "1.0x",
            ref_best=max(max(v["all"]) for v in t.values()))
        notes.append("hpcai CNN 1x2: data stall %.1f%% of step time" % (100 * h["data_frac"]))
    notes.append("The machine is shared (2 cores, other jobs running): medians of alternating runs; "
                 "every repeat is listed on stderr.")
    print("\n".join(out))
    print()
    for n in notes:
        print("- " + n)


if __name__ == "__main__":
    main()
