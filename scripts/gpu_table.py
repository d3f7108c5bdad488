"""Merge ours-*.json (paper-repro speed --json) and torch.jsonl into one table."""
import glob
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "gpu-out"
ours = {}
meta = {}
for path in sorted(glob.glob(os.path.join(out, "ours-*.json"))):
    for rep in json.load(open(path)):
        key = (str(rep["config"]["model"]), rep["config"]["batch"])
        meta[key] = rep
        for p in rep["points"]:
            ours[key + (p["frozen"],)] = p
torch = {}
if os.path.exists(os.path.join(out, "torch.jsonl")):
    for line in open(os.path.join(out, "torch.jsonl")):
        r = json.loads(line)
        torch[(r["model"], r["batch"], r["frozen"])] = r

print(f"{'model':<20} {'batch':>5} {'frozen':>7} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>10} {'ours first ms':>13} {'ours peak MiB':>13} {'torch peak MiB':>14}")
keys = sorted(set(k for k in list(ours) + list(torch)))
for k in keys:
    o, t = ours.get(k), torch.get(k)
    om = o["median_ms"] if o else None
    tm = t["median_ms"] if t else None
    ratio = f"{om / tm:.2f}" if om and tm else "n/a"
    fmt = lambda v, f="{:.1f}": f.format(v) if v is not None else "n/a"
    print(f"{k[0]:<20} {k[1]:>5} {k[2]:>7} {fmt(om):>9} {fmt(tm):>9} {ratio:>10} {fmt(o and o['first_ms']):>13} "
          f"{fmt(o and o.get('peak_mib')):>13} {fmt(t and t.get('peak_mib')):>14}")
print()
for (model, batch), rep in sorted(meta.items()):
    ms = rep.get("measured_saving")
    print(f"{model} batch {batch}: default schedule saving predicted from FLOPs {100 * rep['flop_saving']:.1f}%, "
          f"from measured step times {'n/a' if ms is None else f'{100 * ms:.1f}%'}")
# PyTorch's own simulated saving of the default schedule is left to bench-harness (needs the schedule).
