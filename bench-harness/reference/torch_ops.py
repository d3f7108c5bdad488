#!/usr/bin/env python3
"""One op, one shape, in PyTorch: the same ops, shapes and timing as
`cargo run --release -p bench-harness --example op_repro` (flex), for `bench-harness/PERF.md`.

Each op: y = op(x), then (y * g).sum().backward() with only the input (data gradient) or only
the weight (weight gradient) requiring grad; a gradient's time is that step minus the forward's.
Median of the rounds after one warm-up. Threads: torch's default (one per core) or
OMP_NUM_THREADS.

    python bench-harness/reference/torch_ops.py [ROUNDS]
"""
import sys
import time

import torch
import torch.nn.functional as F


def median_ms(rounds, f):
    times = []
    for _ in range(rounds + 1):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times = sorted(times[1:])
    return times[len(times) // 2]


def backward(y, g):
    (y * g).sum().backward()


def conv(rounds, shape, out, k):
    n, c, h, w = shape
    x = torch.randn(n, c, h, w)
    weight = torch.randn(out, c, k, k) * 0.1
    g = torch.randn(n, out, h, w)
    with torch.no_grad():
        forward = median_ms(rounds, lambda: F.conv2d(x, weight, padding=k // 2))
    data = median_ms(rounds, lambda: backward(F.conv2d(x.detach().requires_grad_(), weight, padding=k // 2), g))
    weights = median_ms(rounds, lambda: backward(F.conv2d(x, weight.detach().requires_grad_(), padding=k // 2), g))
    print(f"| conv {k}×{k} | [{n}, {c}, {h}, {w}] → {out} | {forward:.2f} | {data - forward:.2f} | {weights - forward:.2f} |")


def batchnorm(rounds, shape):
    n, c, h, w = shape
    bn = torch.nn.BatchNorm2d(c).train()
    x = torch.randn(n, c, h, w) * 2 + 0.5
    g = torch.randn(n, c, h, w)
    with torch.no_grad():
        forward = median_ms(rounds, lambda: bn(x))
    step = median_ms(rounds, lambda: backward(bn(x.detach().requires_grad_()), g))
    print(f"| batchnorm (train) | [{n}, {c}, {h}, {w}] | {forward:.2f} | {step - forward:.2f} (input, γ, β) | — |")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, median of {rounds}")
    print("| op | shape | forward ms | data gradient ms | weight gradient ms |")
    print("|---|---|---|---|---|")
    conv(rounds, (50, 84, 32, 32), 48, 1)
    conv(rounds, (50, 48, 32, 32), 12, 3)
    conv(rounds, (50, 32, 32, 32), 32, 3)
    conv(rounds, (50, 128, 8, 8), 128, 3)
    batchnorm(rounds, (50, 84, 32, 32))
    batchnorm(rounds, (50, 32, 32, 32))


if __name__ == "__main__":
    main()
