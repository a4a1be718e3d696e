#!/usr/bin/python3
"""PyTorch reference for scripts/bench-gemm.sh: one training step (forward,
cross-entropy, backward, SGD momentum 0.9) of the same MLP / CNN as
hpcai_bench_step, on the same kind of random in-memory batch, timed the same
way (5 warm-up steps, then --reps repetitions of --steps steps; median).

  torch_step.py --model mlp|cnn --threads T --batch B --steps N --reps R

Prints: torch model=<m> threads=<T> batch=<B> step_ms=<median> min_ms=<min>
        cpu_ms=<median process CPU time per step> samples_per_s=<B/median> rss_mb=<peak RSS>
OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY come from the environment (the
driver tries several and keeps the best for PyTorch).
"""
import argparse
import resource
import time

import torch
import torch.nn as nn


def build(model):
    if model == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                             nn.Linear(256, 10)), (784,)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10)), (1, 28, 28)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, shape = build(a.model)
    x = torch.rand((a.batch,) + shape)
    y = torch.randint(0, 10, (a.batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    times, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        times.append((time.perf_counter() - t0) / a.steps)
        cpu.append((time.process_time() - c0) / a.steps)
    times.sort()
    cpu.sort()
    med = times[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch model={a.model} threads={a.threads} batch={a.batch} step_ms={med * 1e3:.3f} "
          f"min_ms={times[0] * 1e3:.3f} cpu_ms={cpu[len(cpu) // 2] * 1e3:.3f} samples_per_s={a.batch / med:.0f} rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
