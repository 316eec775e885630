"""Builds the Markdown table of bench/run.sh from its JSON lines (one column per implementation)."""
import json
import sys

rows, impls = {}, []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r["impl"] not in impls:
        impls.append(r["impl"])
    rows.setdefault((r["cell"], r["unit"]), {})[r["impl"]] = r["value"]


def ratio_note(cell, vals):
    """For an ESDK cell on aws-lc: its share of the raw aws-lc primitive of the same frame size."""
    parts = cell.split("-")
    if parts[0] not in ("oneshot", "stream") or "rust-aws-lc" not in vals:
        return ""
    suite, frame = parts[2], parts[3]
    raw = "raw-aes256gcm-" + frame if suite == "0478" else "raw-sha384+aes256gcm-" + frame
    base = rows.get((raw, "MB/s"), {}).get("rust-aws-lc")
    py = vals.get("python-esdk-4.0.7")
    out = []
    if base:
        out.append("%.2f of raw" % (vals["rust-aws-lc"] / base))
    if py:
        out.append("%.1f× Python" % (vals["rust-aws-lc"] / py))
    return ", ".join(out)


print("| cell | unit | " + " | ".join(impls) + " | aws-lc vs raw / vs Python |")
print("|---|---|" + "---|" * len(impls) + "---|")
for (cell, unit), vals in rows.items():
    cols = " | ".join(("%g" % vals[i]) if i in vals else "–" for i in impls)
    print("| %s | %s | %s | %s |" % (cell, unit, cols, ratio_note(cell, vals)))
