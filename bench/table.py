"""Builds the Markdown table of bench/run.sh from its JSON lines (one column per implementation),
with each cell's ratios to the raw aws-lc primitive and to the Python ESDK from the same run,
and whether issue #13's target for that cell is met."""
import json
import sys

PY = "python-esdk-4.0.7"
AWS = "rust-aws-lc"

rows, impls = {}, []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r["impl"] not in impls:
        impls.append(r["impl"])
    rows.setdefault((r["cell"], r["unit"]), {})[r["impl"]] = r["value"]


def verdict(ok_list):
    if not ok_list:
        return ""
    return "**met**" if all(ok_list) else "**missed**"


def notes(cell, unit, vals):
    """(ratio text, verdict) for the aws-lc figure of this cell against issue #13's targets."""
    parts = cell.split("-")
    out, oks = [], []
    if parts[0] in ("oneshot", "into", "stream") and AWS in vals:
        suite, frame = parts[2], parts[3]
        kib = int(frame[:-1])
        raw = ("raw-aes256gcm-" if suite == "0478" else "raw-sha384+aes256gcm-") + frame
        base = rows.get((raw, "MB/s"), {}).get(AWS)
        if base:
            share = vals[AWS] / base
            want = 0.85 if (suite == "0578" or kib >= 64) else 0.70
            out.append("%.2f of raw (≥ %.2f)" % (share, want))
            oks.append(share >= want)
        fresh = rows.get(("raw-aes256gcm-fresh-" + frame, "MB/s"), {}).get(AWS)
        if fresh and parts[0] == "oneshot" and suite == "0478":
            out.append("%.2f of raw into a fresh buffer" % (vals[AWS] / fresh))
        warm = rows.get(("raw-aes256gcm-warm-out-" + frame, "MB/s"), {}).get(AWS)
        if warm and parts[0] == "into" and suite == "0478":
            out.append("%.2f of raw out of place into a warm buffer" % (vals[AWS] / warm))
        py = vals.get(PY)
        if parts[0] == "into":
            # The Python ESDK has no such API: its one-shot figure for the same operation.
            py = rows.get(("oneshot-" + "-".join(parts[1:]), unit), {}).get(PY)
        if py:
            want = 1.0 if (suite == "0578" and kib >= 64) else 2.0
            out.append("%.1f× Python (≥ %g×)" % (vals[AWS] / py, want))
            oks.append(vals[AWS] / py >= want)
    elif parts[0] == "1k" and AWS in vals:
        suite = parts[-1]
        limit = {"0478": 10.0, "0578": 500.0}.get(suite)
        if limit is not None:
            out.append("%.1f µs (≤ %g)" % (vals[AWS], limit))
            oks.append(vals[AWS] <= limit)
        py = vals.get(PY) or rows.get(("1k-roundtrip-" + suite, unit), {}).get(PY)
        if py:
            # Latency: Python's time over ours (the 1 KiB messages are single-frame, so the
            # signed-large-frame exception does not apply).
            want = 2.0
            out.append("%.1f× Python (≥ %g×)" % (py / vals[AWS], want))
            oks.append(py / vals[AWS] >= want)
    elif parts[0].startswith("rsa") and PY in vals:
        ours = vals.get(AWS, vals.get("rust-rustcrypto"))
        if ours:
            out.append("%.2f× Python (≥ 1×)" % (vals[PY] / ours))
            oks.append(vals[PY] / ours >= 1.0)
    return ", ".join(out), verdict(oks)


print("| cell | unit | " + " | ".join(impls) + " | aws-lc vs raw / vs Python (target) | target |")
print("|---|---|" + "---|" * len(impls) + "---|---|")
for (cell, unit), vals in rows.items():
    cols = " | ".join(("%g" % vals[i]) if i in vals else "–" for i in impls)
    text, v = notes(cell, unit, vals)
    print("| %s | %s | %s | %s | %s |" % (cell, unit, cols, text, v))
