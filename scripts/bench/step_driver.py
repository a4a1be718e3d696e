#!/usr/bin/python3
"""Driver of scripts/bench-gemm.sh (see there).  Runs every configuration once
per round, interleaved, for --rounds rounds; reports the median over rounds
of each configuration's per-run median, and ratios measured in the same run.
"""
import argparse
import os
import statistics
import subprocess
import sys


def run(cmd, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if "step_ms=" in l][-1]
    kv = dict(tok.split("=", 1) for tok in line.split()[1:])
    return float(kv["step_ms"]), float(kv["rss_mb"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    bench = os.path.join(a.bin, "hpcai_bench_step")
    torch_py = os.path.join(here, "torch_step.py")
    threads = [int(t) for t in a.threads.split(",")]
    models = a.models.split(",")

    configs = []  # (key, cmd, env)
    for model in models:
        steps, reps = ("20", "7") if model == "mlp" else ("4", "5")
        common = ["--model", model, "--batch", str(a.batch), "--steps", steps, "--reps", reps]
        for t in threads:
            configs.append(((model, t, "hpcai", ""), [bench, "--what", "hpcai", "--threads", str(t)] + common, {}))
            if model == "mlp":
                configs.append(((model, t, "gemm", ""), [bench, "--what", "gemm", "--threads", str(t)] + common, {}))
                configs.append(((model, t, "gemm-sharded", ""),
                                [bench, "--what", "gemm-sharded", "--threads", str(t)] + common, {}))
            for blas in sorted({1, t}):
                for wait in ("PASSIVE", ""):
                    env = {"OPENBLAS_NUM_THREADS": str(blas)}
                    if wait:
                        env["OMP_WAIT_POLICY"] = wait
                    label = f"OPENBLAS_NUM_THREADS={blas}" + (f" OMP_WAIT_POLICY={wait}" if wait else "")
                    configs.append(((model, t, "torch", label),
                                    ["/usr/bin/python3", torch_py, "--threads", str(t)] + common, env))

    results = {c[0]: [] for c in configs}
    rss = {}
    for r in range(a.rounds):
        order = configs if r % 2 == 0 else list(reversed(configs))
        for key, cmd, env in order:
            ms, mb = run(cmd, env)
            results[key].append(ms)
            rss[key] = max(rss.get(key, 0), mb)
            print(f"round {r + 1}: {key} {ms:.2f} ms", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in results.items()}
    env_note = " ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                        if k in os.environ) or "(none)"
    print(f"Batch {a.batch}, {a.rounds} interleaved rounds, medians; OpenBLAS env: {env_note}\n")
    print("| model | threads | hpcai samples/s | PyTorch best samples/s (setting) | ratio | hpcai RSS MB | PyTorch RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for model in models:
        for t in threads:
            h = med[(model, t, "hpcai", "")]
            torch_keys = [k for k in med if k[0] == model and k[1] == t and k[2] == "torch"]
            best = min(torch_keys, key=lambda k: med[k])
            print(f"| {model} | {t} | {a.batch / h * 1e3:,.0f} | {a.batch / med[best] * 1e3:,.0f} ({best[3]}) | "
                  f"{med[best] / h:.2f}x | {rss[(model, t, 'hpcai', '')]:.0f} | {rss[best]:.0f} |")
    if "mlp" in models:
        print("\n| MLP step, threads | hpcai ms | bare sgemm, OpenBLAS-threaded ms | hpcai / that | "
              "bare sgemm, sharded like hpcai ms | hpcai / that |")
        print("|---|---|---|---|---|---|")
        for t in threads:
            h = med[("mlp", t, "hpcai", "")]
            g = med[("mlp", t, "gemm", "")]
            gs = med[("mlp", t, "gemm-sharded", "")]
            print(f"| {t} | {h:.2f} | {g:.2f} | {h / g:.2f} | {gs:.2f} | {h / gs:.2f} |")
    print("\nAll PyTorch settings (median ms/step):")
    for k in sorted(k for k in med if k[2] == "torch"):
        print(f"  {k[0]} threads={k[1]} {k[3]}: {med[k]:.2f}")


if __name__ == "__main__":
    main()
