"""PyTorch comparator for `paper-repro speed`: the same models (DenseNet-BC, WRN), the same
unit indexing, the same step (cross-entropy, SGD with Nesterov momentum 0.9, dampening 0,
weight decay 1e-4) and the same protocol (random CIFAR-shaped data, warm-up, median of timed
steps between two device syncs) with a frozen prefix of 0/25/50/75% of the units.

Written from the FreezeOut math for this project. Usage:
    python3 torch_speed.py --model densenet-bc-100-12 --batch 64 256 --iters 30 --warmup 5
Prints one JSON object per (model, batch, fraction) on stdout. With `--profile`, each object
also holds `profile`: the milliseconds per step of each op kind (torch.profiler, self CPU time
of the ATen ops, averaged over the timed steps, which run once more under the profiler).
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(c_in, c_out, k, stride=1):
    layer = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
    nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / (k * k * c_out)))
    return layer


class DenseLayer(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c), conv(c, 4 * k, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(4 * k), conv(4 * k, k, 3)

    def forward(self, x):
        h = self.conv1(F.relu(self.bn1(x)))
        h = self.conv2(F.relu(self.bn2(h)))
        return torch.cat([x, h], 1)


class Transition(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(c_in), conv(c_in, c_out, 1)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class WideBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), conv(c_in, c_out, 3, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), conv(c_out, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1, stride) if (c_in != c_out or stride != 1) else None

    def forward(self, x):
        o = F.relu(self.bn1(x))
        h = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return h + (self.shortcut(o) if self.shortcut is not None else x)


class Net(nn.Module):
    """Units in forward order, then the head (BN, ReLU, global pool, linear)."""

    def __init__(self, units, c_out, classes):
        super().__init__()
        self.units = nn.ModuleList(units)
        self.bn, self.fc = nn.BatchNorm2d(c_out), nn.Linear(c_out, classes)
        nn.init.zeros_(self.fc.bias)
        self.frozen = 0

    def freeze(self, k):
        """Freeze units 0..k: no grad, BatchNorm in eval mode (as the reference code)."""
        self.frozen = k
        for i, u in enumerate(self.units):
            u.requires_grad_(i >= k)
            u.train(i >= k)

    def forward(self, x):
        for i, u in enumerate(self.units):
            x = u(x)
            if i + 1 == self.frozen:
                x = x.detach()
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.bn(x)), 1).flatten(1))


def densenet_bc(depth, k, classes):
    per_block, c = (depth - 4) // 6, 2 * k
    units = [conv(3, c, 3)]
    for b in range(3):
        for _ in range(per_block):
            units.append(DenseLayer(c, k))
            c += k
        if b < 2:
            units.append(Transition(c, c // 2))
            c //= 2
    return Net(units, c, classes)


def wrn(depth, width, classes):
    n, w = (depth - 4) // 6, [16, 16 * width, 32 * width, 64 * width]
    units, c = [conv(3, 16, 3)], 16
    for g, stride in enumerate([1, 2, 2]):
        for i in range(n):
            units.append(WideBlock(c, w[g + 1], stride if i == 0 else 1))
            c = w[g + 1]
    return Net(units, c, classes)


def build(name, classes):
    parts = name.split("-")
    if name.startswith("densenet-bc-"):
        return densenet_bc(int(parts[2]), int(parts[3]), classes)
    if name.startswith("wrn-"):
        return wrn(int(parts[1]), int(parts[2]), classes)
    raise SystemExit(f"unknown model {name}: densenet-bc-L-k or wrn-D-W")


# Op kinds of the per-step profile, first match wins (ATen names, CPU).
KINDS = [
    ("convolution backward (data + weight)", ("convolution_backward", "mkldnn_convolution_backward", "slow_conv2d_backward")),
    ("convolution forward", ("convolution", "conv2d", "mkldnn_convolution", "slow_conv2d")),
    ("batchnorm backward", ("batch_norm_backward",)),
    ("batchnorm forward", ("batch_norm",)),
    ("relu forward / backward", ("relu", "threshold_backward", "threshold")),
    ("concatenation", ("aten::cat",)),
    ("pooling", ("pool", "aten::mean")),
    ("loss", ("log_softmax", "nll_loss", "cross_entropy")),
    ("optimizer", ("_foreach", "sgd")),
    ("linear (head)", ("addmm", "aten::mm", "aten::linear", "aten::t")),
]


def kind(op):
    for label, keys in KINDS:
        if any(k in op for k in keys):
            return label
    return "other (copies, fills, adds, autograd bookkeeping)"


def profile_steps(step, iters):
    """Self CPU milliseconds per step of each op kind over `iters` more steps."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            step()
    per_kind = {}
    for e in prof.key_averages():
        per_kind[kind(e.key)] = per_kind.get(kind(e.key), 0.0) + e.self_cpu_time_total / 1e3 / iters
    return dict(sorted(per_kind.items(), key=lambda kv: -kv[1]))


def measure(name, batch, fraction, iters, warmup, device, classes=10, profile=False):
    torch.manual_seed(0)
    model = build(name, classes).to(device)
    n = len(model.units)
    frozen = min(n, math.floor(fraction * n + 0.5))  # as Rust's f64::round (half away from 0)
    model.train()
    model.freeze(frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, dampening=0, nesterov=True, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    times = []
    for i in range(warmup + iters):
        sync()
        t = time.perf_counter()
        step()
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
    per_kind = profile_steps(step, iters) if profile else None
    # The training-mode forward pass alone (graph built and dropped), as `paper-repro speed`.
    forward = []
    for _ in range(max(iters, 1)):
        sync()
        t = time.perf_counter()
        out = model(x)
        sync()
        forward.append((time.perf_counter() - t) * 1e3)
        del out
    times.sort()
    forward.sort()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return {"framework": "pytorch", "model": name, "units": n, "batch": batch, "fraction": fraction,
            "frozen": frozen, "median_ms": times[len(times) // 2], "forward_ms": forward[len(forward) // 2],
            "peak_mib": peak, "cudnn_tf32": device.type == "cuda" and torch.backends.cudnn.allow_tf32,
            "threads": torch.get_num_threads(), "profile": per_kind}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="+", default=["densenet-bc-100-12"])
    ap.add_argument("--batch", nargs="+", type=int, default=[64])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", action="store_true", help="add the per-op-kind profile of a step")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    for name in args.model:
        for batch in args.batch:
            for f in args.fractions:
                print(json.dumps(measure(name, batch, f, args.iters, args.warmup, device, profile=args.profile)), flush=True)


if __name__ == "__main__":
    main()
