#!/usr/bin/env python3
"""Time per op kind of our training step on flex, from a `perf` profile with call graphs.

flex computes every op on rayon's pool. `paper-repro` drives the step from a pool thread
(`burn_freezeout::device::on_compute_pool`), so that thread's stacks name the op from the
training step down to the kernel; samples of the other pool threads (work they stole) have
no such frames and take the op kind of the step thread's nearest sample in time. With
`RAYON_NUM_THREADS=1` every sample is the step thread's: the attribution is exact.

Record (release build, one frozen fraction per profile; only samples inside
`Stepper::step`, the timed training steps, count):

    RAYON_NUM_THREADS=1 perf record -F 299 --call-graph dwarf,32768 -o p.data -- \
        target/release/paper-repro speed --model densenet-bc-40-12 --batch 50 \
        --fractions 0 --iters 3 --warmup 1
    perf script -i p.data -F tid,time,ip,sym --no-inline > p.txt
    python3 bench-harness/reference/flex_profile.py p.txt --step-ms 1627.3

`--step-ms` (the median step `speed` printed in the same run) turns shares into ms per step.
"""

import argparse
import bisect
import collections
import re
import sys

# The op kinds, in the table's order (the rows of PyTorch's profile in `torch_speed.py`).
KINDS = [
    "convolution forward",
    "convolution data gradient",
    "convolution weight gradient",
    "1×1 convolution gradients as a matrix product (data + weight)",
    "batchnorm forward",
    "batchnorm backward",
    "ReLU forward / backward",
    "concatenation (forward / backward)",
    "pooling (forward / backward)",
    "loss, linear head",
    "optimizer (SGD update)",
    "FreezeOut driver",
    "other backward (autodiff bookkeeping, gradient sums, small ops)",
    "other forward (autodiff bookkeeping, small ops)",
]

# Burn's autodiff forward op (a method of `impl ... for Autodiff<B,C>`) and its backward step
# (`<... op::Struct as Backward<..>>::backward`), after `<impl ...>` is stripped.
FORWARD = re.compile(r"burn_autodiff::ops::\w+::> for burn_autodiff::backend::Autodiff<B,C>>::(\w+)$")
BACKWARD = re.compile(r"burn_autodiff::ops::\w+::> for burn_autodiff::backend::Autodiff<B,C>>::(\w+)::\w+ as burn_autodiff::ops::backward::Backward")


def load(path):
    """perf script samples: (tid, time, frames leaf first)."""
    samples, cur = [], None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if cur:
                    samples.append(cur)
                cur = None
            elif not line.startswith("\t"):  # a sample's header (the tid may be space-padded)
                head = line.split()
                cur = (int(head[0]), float(head[1].rstrip(":")), [])
            elif cur is not None:
                parts = line.strip().split(" ", 1)
                if len(parts) > 1:
                    cur[2].append(re.sub(r"<impl [^>]*>", "", parts[1]))
    if cur:
        samples.append(cur)
    return samples


# Burn's autodiff op → the kind of its backward step / of its forward.
BACKWARD_KINDS = {
    "float_matmul": "1×1 convolution gradients as a matrix product (data + weight)",  # `pointwise`; the head's too
    "batch_norm_train": "batchnorm backward",
    "relu": "ReLU forward / backward",
    "float_cat": "concatenation (forward / backward)",
    "float_mean_dim": "pooling (forward / backward)",
    "avg_pool2d": "pooling (forward / backward)",
    "adaptive_avg_pool2d": "pooling (forward / backward)",
}
FORWARD_KINDS = {
    "conv2d": "convolution forward",
    "batch_norm_train": "batchnorm forward",
    "relu": "ReLU forward / backward",
    "float_cat": "concatenation (forward / backward)",
}
# Frames of a module's or layer's forward, tracked (through Autodiff's op) or frozen (the inner
# backend's): a substring of the frame → the kind.
FRAME_KINDS = [
    ("burn_nn::modules::conv::conv2d::Conv2d::forward", "convolution forward"),
    ("models::layers::pointwise", "convolution forward"),
    ("burn_nn::modules::norm::batch::BatchNorm::forward", "batchnorm forward"),
    ("relu_impl", "ReLU forward / backward"),
    ("Tensor<_,K>::cat", "concatenation (forward / backward)"),
    ("models::layers::avg_pool2", "pooling (forward / backward)"),
    ("global_avg_pool", "pooling (forward / backward)"),
    ("burn_nn::loss", "loss, linear head"),
    ("burn_nn::modules::linear", "loss, linear head"),
]


def classify(frames):
    """The op kind of a step-thread sample, or None outside the timed training step."""
    if not any("Stepper::step" in f for f in frames):
        return None
    in_backward = False
    for f in reversed(frames):  # from the thread's root down to the kernel
        if "burn_optim::" in f:
            return "optimizer (SGD update)"
        if "FreezeOutDriver" in f:
            return "FreezeOut driver"
        if "AutodiffClient>::backward" in f:
            in_backward = True
        m = BACKWARD.search(f)
        if m:
            if m.group(1) == "conv2d":  # weight (and bias) or data gradient
                data = any("conv2d_x_backward" in g for g in frames)
                return "convolution data gradient" if data else "convolution weight gradient"
            if m.group(1) in BACKWARD_KINDS:
                return BACKWARD_KINDS[m.group(1)]
            continue
        kind = next((k for sub, k in FRAME_KINDS if sub in f), None)
        if kind:
            return kind
        m = FORWARD.search(f)
        if m and m.group(1) in FORWARD_KINDS:
            return FORWARD_KINDS[m.group(1)]
    return "other backward (autodiff bookkeeping, gradient sums, small ops)" if in_backward \
        else "other forward (autodiff bookkeeping, small ops)"


def attribute(samples, window_s):
    """Counts per op kind, of the step thread's samples and of the other pool threads'. The
    step thread is the one with `Stepper::step` frames; another thread's sample takes the kind
    of the step thread's nearest sample within `window_s`."""
    step_tids = collections.Counter(t for t, _, fr in samples if any("Stepper::step" in f for f in fr))
    if not step_tids:
        sys.exit("no sample inside Stepper::step: was it recorded with --call-graph dwarf on paper-repro speed?")
    step_tid = step_tids.most_common(1)[0][0]
    timeline = sorted((t, classify(fr)) for tid, t, fr in samples if tid == step_tid)
    times = [t for t, _ in timeline]
    own, other, unmatched = collections.Counter(), collections.Counter(), 0
    for tid, t, frames in samples:
        if tid == step_tid:
            kind = classify(frames)
            if kind:
                own[kind] += 1
            continue
        i = bisect.bisect_left(times, t)
        near = [j for j in (i - 1, i) if 0 <= j < len(times) and abs(times[j] - t) <= window_s]
        if not near:
            unmatched += 1
            continue
        kind = timeline[min(near, key=lambda j: abs(times[j] - t))][1]
        if kind:
            other[kind] += 1
    return own, other, unmatched


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("script", help="output of `perf script -F tid,time,ip,sym --no-inline`")
    parser.add_argument("--step-ms", type=float, help="median step time of the same run (ms)")
    parser.add_argument("--window-ms", type=float, default=5.0,
                        help="another thread's sample takes the step thread's kind within this time")
    args = parser.parse_args()
    own, other, unmatched = attribute(load(args.script), args.window_ms / 1e3)
    total = sum(own.values()) + sum(other.values())
    print(f"{total} samples in the training step ({sum(other.values())} from other pool threads, by time; "
          f"{unmatched} of theirs had no step-thread sample within {args.window_ms} ms)")
    # Threads busy while the op runs, roughly: a pool thread spinning for work is on the CPU too.
    print("| op kind | samples | share | ms per step | threads busy |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        n = own.get(kind, 0) + other.get(kind, 0)
        ms = f"{n / total * args.step_ms:.1f}" if args.step_ms else "—"
        busy = f"{n / own[kind]:.2f}" if own.get(kind) else "—"
        print(f"| {kind} | {n} | {100 * n / total:.1f} % | {ms} | {busy} |")

if __name__ == "__main__":
    main()
