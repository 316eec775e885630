#!/usr/bin/env python3
"""Throughput ratios of the `throughput` bench against the targets of the performance issue.

Reads criterion's `new/benchmark.json` + `new/estimates.json` under `target/criterion` (or the
directory given as the first argument; `$CARGO_TARGET_DIR/criterion` if that is set) and prints:

* every benchmark's time and throughput (GiB/s) from criterion's median estimate, its mean
  (`--mean`), or the fastest sample's time per iteration (`--fastest`, from `new/sample.json`:
  the least disturbed by other processes on a shared, noisy machine);
* unsigned (0x0478): ESDK / raw AES-256-GCM at the same chunk size (seal for encrypt, open for
  decrypt); targets: >= 0.85 at frames >= 64 KiB, >= 0.70 at 4 KiB. The ratio against one 16 MiB
  AES-GCM call is printed for information;
* signed (0x0578): ESDK / combined raw, combined = 1 / (1/aes + 1/sha384); target >= 0.85.

Exit status: 0 if every target is met, 1 if one is missed, 2 if results are missing.
"""

import json
import os
import sys
from pathlib import Path

FRAMES = ["4KiB", "64KiB", "1MiB"]
UNSIGNED, SIGNED = "0478", "0578"


def target_for(suite, frame):
    if suite == SIGNED:
        return 0.85
    return 0.70 if frame == "4KiB" else 0.85


def load(root, stat):
    results = {}
    for bench in root.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        if stat == "fastest":
            sample = json.loads((bench.parent / "sample.json").read_text())
            seconds = min(t / n for t, n in zip(sample["times"], sample["iters"])) / 1e9
        else:
            est = json.loads((bench.parent / "estimates.json").read_text())
            seconds = est[stat]["point_estimate"] / 1e9
        nbytes = (meta.get("throughput") or {}).get("Bytes")
        results[meta["full_id"]] = (seconds, nbytes)
    return results


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    stat = "median"
    for flag in ("--mean", "--fastest"):
        if flag in sys.argv:
            stat = flag[2:]
    if args:
        root = Path(args[0])
    elif os.environ.get("CARGO_TARGET_DIR"):
        root = Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    else:
        root = Path(__file__).resolve().parents[2] / "target" / "criterion"
    results = load(root, stat)
    if not results:
        print(f"no criterion results under {root}", file=sys.stderr)
        return 2

    def rate(full_id):
        """Throughput in bytes per second."""
        seconds, nbytes = results[full_id]
        return nbytes / seconds

    gib = float(1 << 30)
    print(f"{'benchmark':<40} {stat + ' time':>14} {'GiB/s':>8}")
    for full_id in sorted(results):
        seconds, nbytes = results[full_id]
        speed = f"{nbytes / seconds / gib:8.3f}" if nbytes else ""
        time = f"{seconds * 1e3:11.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:11.1f} us"
        print(f"{full_id:<40} {time:>14} {speed}")

    missing = False
    failed = False
    print()
    print(f"{'ratio':<44} {'value':>7} {'target':>7}  vs single 16 MiB call")
    for op, raw_group in (("encrypt", "aes256gcm_seal"), ("decrypt", "aes256gcm_open")):
        for suite in (UNSIGNED, SIGNED):
            for frame in FRAMES:
                fn = f"{suite}_in_place" if op == "encrypt" else suite
                esdk = f"esdk_{op}/{fn}/{frame}"
                raw = f"{raw_group}/chunked/{frame}"
                single = f"{raw_group}/single/16MiB"
                needed = [esdk, raw, single] + (["sha384/16MiB"] if suite == SIGNED else [])
                absent = [n for n in needed if n not in results]
                if absent:
                    print(f"{esdk:<44} missing: {', '.join(absent)}")
                    missing = True
                    continue
                aes, aes_single = rate(raw), rate(single)
                if suite == SIGNED:
                    sha = rate("sha384/16MiB")
                    base = 1 / (1 / aes + 1 / sha)
                    base_single = 1 / (1 / aes_single + 1 / sha)
                    label = f"{op} {suite} {frame} / (aes+sha384)"
                else:
                    base, base_single = aes, aes_single
                    label = f"{op} {suite} {frame} / aes"
                ratio = rate(esdk) / base
                want = target_for(suite, frame)
                ok = ratio >= want
                failed |= not ok
                print(
                    f"{label:<44} {ratio:7.3f} {want:7.2f}  {rate(esdk) / base_single:6.3f}"
                    f"  {'ok' if ok else 'MISSED'}"
                )
    for suite in (UNSIGNED, SIGNED):
        name = f"latency_1KiB/{suite}"
        if name in results:
            print(f"1 KiB encrypt+decrypt latency {suite}: {results[name][0] * 1e6:.1f} us")
    if missing:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
