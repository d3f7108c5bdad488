"""Merge ours-*.json (`paper-repro speed --json`) and torch.jsonl into one table (printed last).

Usage: gpu_table.py LOGS (the run's logs folder: $OUT/logs during the run, or logs/ unpacked
from the logs.tar.xz it returns)."""
import glob
import json
import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "gpu-out/logs"


def variant(dtype, device):
    """A row's variant: the float type on burn-cuda (or flex), `backend/float` on another backend."""
    return dtype if device in ("cuda", "cpu", "wgpu") else f"{device}/{dtype}"


ours, meta, retried = {}, {}, set()
for path in sorted(glob.glob(os.path.join(out, "ours-*.json"))):
    for rep in json.load(open(path)):
        c = rep["config"]
        key = (str(c["model"]), c["batch"], variant(c.get("float", "f32"), c.get("device", "cuda")))
        meta[key] = rep
        if path.endswith("-retry.json"):
            retried.add(key)
        for p in rep["points"]:
            ours[key + (p["frozen"],)] = p
# A run cut off by its time cap wrote no JSON: salvage its per-step lines (`--verbose`).
STEP = re.compile(r"^step \S+ (\d+) frozen (\d+): ([0-9.]+) ms")
for path in sorted(glob.glob(os.path.join(out, "ours-*.txt"))):
    m = re.match(r"ours-(.+)-(\d+)(?:-(flex32|bf16|f16|tch-cuda|tch))?(?:-retry)?\.txt$", os.path.basename(path))
    if not m or os.path.exists(path[:-4] + ".json"):
        continue
    steps = {}
    for line in open(path, errors="replace"):
        s = STEP.match(line)
        if s:
            steps.setdefault(int(s.group(2)), []).append((int(s.group(1)), float(s.group(3))))
    for frozen, ts in steps.items():
        timed = sorted(ms for i, ms in ts if i >= 3) or sorted(ms for _, ms in ts)
        suffix = m.group(3) or "f32"
        key = (m.group(1), int(m.group(2)), variant("f32", suffix) if suffix.startswith("tch") else suffix, frozen)
        if key in ours and ours[key].get("partial", len(ts)) >= len(ts):
            continue  # a complete report (the retry's), or a longer salvaged log, wins
        ours[key] = {"median_ms": timed[len(timed) // 2], "first_ms": ts[0][1], "partial": len(ts)}
torch = {}
path = os.path.join(out, "torch.jsonl")
if os.path.exists(path):
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            torch[(r["model"], r["batch"], "f32", r["frozen"])] = r


def fmt(v, f="{:.1f}"):
    return f.format(v) if v is not None else "n/a"


def get(d, k):
    return d.get(k) if d else None


print("torch: PyTorch eager, f32 tensors (cuDNN convolutions use TF32 unless disabled); ours/torch on the same row")
print("\n".join(f"{k}: {v}" for k, v in [("ours", f"{len(ours)} points"), ("pytorch", f"{len(torch)} points")]))
head = ["model", "batch", "variant", "frozen", "ours ms", "ours fwd", "torch ms", "torch fwd", "ours/torch", "ours 1st ms",
        "ours MiB", "torch MiB"]
print(f"{head[0]:<20}" + "".join(f"{h:>12}" for h in head[1:]))
for k in sorted(set(ours) | set(torch)):
    o, t = ours.get(k), torch.get(k)
    om, tm = get(o, "median_ms"), get(t, "median_ms")
    cells = [k[1], k[2], k[3], fmt(om), fmt(get(o, "forward_ms")), fmt(tm), fmt(get(t, "forward_ms")),
             f"{om / tm:.2f}" if om and tm else "n/a", fmt(get(o, "first_ms")), fmt(get(o, "peak_mib"), "{:.0f}"),
             fmt(get(t, "peak_mib"), "{:.0f}")]
    print(f"{k[0]:<20}" + "".join(f"{c:>12}" for c in cells))
print()
for (model, batch, var), rep in sorted(meta.items()):
    ms = rep.get("measured_saving")
    line = (f"{model} batch {batch} {var}: default schedule saving predicted from FLOPs {100 * rep['flop_saving']:.1f}%, "
            f"from measured step times {'n/a' if ms is None else f'{100 * ms:.1f}%'}")
    after = rep["points"][0].get("in_use_after_mib") if rep["points"] else None
    if after is not None:
        line += f"; device memory in use after it: {after:.1f} MiB"
    run = rep.get("scheduled")
    if run:
        line += (f"; scheduled run ({run['iterations']} it): measured {100 * run['measured_saving']:.1f}% "
                 f"= {run['ratio']:.3f} x predicted (goal >= 0.95)")
    print(line)
partial = sorted({k[:3] for k, v in ours.items() if "partial" in v})
for k in partial:
    print(f"{k[0]} batch {k[1]} {k[2]}: cut off by its time cap; rows from its per-step log (median of the steps after 3)")
for k in sorted(retried):
    print(f"{k[0]} batch {k[1]} {k[2]}: the first attempt hit its cap; rows from the retry with the kernels and autotune "
          "results it had cached (its first step is the warm-cache one)")


# CubeCL's own account of each stage (the first step's cost): kernels compiled, and autotune
# tunings by key (one "Fastest result" entry per tuned shape) with the summed compile-and-bench
# time of their candidates (tunings may overlap, so it can exceed the wall clock).
SECONDS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
TUNED = re.compile(r"^Fastest result \S+?-(\w+?)(?:AutotuneKey)?\b")
CANDIDATE = re.compile(r"compilation & bench: ([0-9.]+)(ns|µs|us|ms|s)\)")


def cubecl_summary(stage):
    compiled = os.path.join(out, f"cubecl-compile-{stage}.log")
    autotune = os.path.join(out, f"cubecl-autotune-{stage}.log")
    kernels = sum(1 for _ in open(compiled, errors="replace")) if os.path.exists(compiled) else 0
    keys, secs = {}, 0.0
    if os.path.exists(autotune):
        for line in open(autotune, errors="replace"):
            m = TUNED.match(line)
            if m:
                keys[m.group(1)] = keys.get(m.group(1), 0) + 1
            for v, unit in CANDIDATE.findall(line):
                secs += float(v) * SECONDS[unit]
    return kernels, keys, secs


stages = sorted(os.path.basename(p)[len("cubecl-compile-"):-len(".log")]
                for p in glob.glob(os.path.join(out, "cubecl-compile-*.log")))
if stages:
    print("\ncubecl per stage: kernels compiled; tunings by key; candidates' compile+bench time")
for stage in stages:
    kernels, keys, secs = cubecl_summary(stage)
    tuned = ", ".join(f"{k} {n}" for k, n in sorted(keys.items(), key=lambda kv: -kv[1])) or "none"
    print(f"  {stage}: {kernels} kernels; {sum(keys.values())} tunings ({tuned}); {secs:.1f} s")
