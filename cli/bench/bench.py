#!/usr/bin/env python3
"""Measures `esdk` against aws-encryption-cli: encrypt + decrypt one file, same key, per suite
and frame length. Driven by bench.sh (which builds esdk and prepares the venv and the key).

Soundness rules (issue #15):
* `sync` (untimed) before every measured run, so no run pays for the write-back of the
  previous runs' outputs;
* REPS repetitions, the tools interleaved within each repetition (and their order alternated),
  best and median reported;
* every output on the same filesystem as the input (the work directory);
* the signed suites' bound printed: both tools hash the whole message with SHA-384 on one
  core, so no tool decrypts or encrypts faster than one core's SHA-384 over the message;
  measured in the same run with esdk's backend (aws-lc, examples/sha384_speed.rs: the bound
  of esdk) and with `openssl speed` (OpenSSL, what aws-encryption-cli hashes with); the
  ceiling ratio is aws-encryption-cli's best time / the aws-lc SHA-384 time.

* extra rows with the output going to /dev/null (frame lengths of ESDK_BENCH_NULL_FRAMES,
  default: every frame length): the tools' own cost, without the kernel's copy into new
  page-cache pages (whose cost swings by 10x from run to run on VMs that hand freed memory
  back to the host);
* the copy reference: `cp` of the input to a new file, timed in the same run;
  aws-encryption-cli's best / cp time is the ratio a tool exactly as fast as a plain file copy
  would show in a file row;
* that page-cache cost itself, probed before the first and after the last cell: the time to
  write 256 MiB to a new file in the work directory in 256 KiB writes (no tool involved), so a
  run whose file rows were slowed by the host shows it.

Usage: bench.py WORK SIZE_MIB ESDK AWSCLI SHA384_SPEED  (env: ESDK_BENCH_SUITES, ESDK_BENCH_FRAMES,
ESDK_BENCH_REPS, ESDK_BENCH_SKIP_AWSCLI, ESDK_BENCH_THREADS).
"""
import os
import statistics
import subprocess
import sys
import time

work, size_mib, esdk, awscli, sha_bin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
suites = os.environ.get(
    "ESDK_BENCH_SUITES",
    "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
).split()
frames = [int(f) for f in os.environ.get("ESDK_BENCH_FRAMES", "4096 65536 1048576").split()]
reps = int(os.environ.get("ESDK_BENCH_REPS", "3"))
skip_awscli = os.environ.get("ESDK_BENCH_SKIP_AWSCLI", "0") == "1"
threads = os.environ.get("ESDK_BENCH_THREADS", "")
null_frames = [int(f) for f in os.environ.get("ESDK_BENCH_NULL_FRAMES", "4096 65536 1048576").split()]
plain = os.path.join(work, "plain")
key = os.path.join(work, "keys", "bench")
esdk_key = ["-w", "provider=raw-aes", "key-namespace=bench", "key-name=bench", "key-file=" + key]
py_key = ["-w", "provider=raw-aes-dir", "key=bench"]
esdk_extra = ["--threads", threads] if threads else []
size = size_mib << 20


def run(cmd):
    """One measured run after an untimed sync: (wall s, cpu s, peak RSS KiB)."""
    os.sync()
    t = time.monotonic()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if status != 0:
        sys.exit("failed (%s): %s" % (status, " ".join(cmd)))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def same(a, b):
    if subprocess.run(["cmp", "-s", a, b]).returncode != 0:
        sys.exit("output differs from the input: %s" % b)


def sha384_awslc_seconds():
    """One core's SHA-384 time for `size` bytes with aws-lc (best of 3)."""
    out = subprocess.run([sha_bin, str(size_mib)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def sha384_openssl_seconds():
    """One core's SHA-384 time for `size` bytes (openssl speed, 64 KiB blocks, best of 3)."""
    best = 0.0
    for _ in range(3):
        out = subprocess.run(
            ["openssl", "speed", "-mr", "-seconds", "1", "-bytes", "65536", "-evp", "sha384"],
            capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("+F:"):
                best = max(best, float(line.split(":")[3]))
    return size / best if best else float("nan")


def tool_runs(tool, suite, frame):
    enc, dec = os.path.join(work, tool + ".enc"), os.path.join(work, tool + ".dec")
    if tool == "esdk":
        e = [esdk, "-e", "-i", plain, "-o", enc, "-S", "-q", "--algorithm", suite,
             "--frame-length", str(frame)] + esdk_key + esdk_extra
        d = [esdk, "-d", "-i", enc, "-o", dec, "-S", "-q"] + esdk_key + esdk_extra
    else:
        e = [awscli, "-e", "-i", plain, "-o", enc, "-S", "-q", "--algorithm", suite,
             "--frame-length", str(frame)] + py_key
        d = [awscli, "-d", "-i", enc, "-o", dec, "-S", "-q"] + py_key
    r_enc = run(e)
    r_dec = run(d)
    same(plain, dec)
    os.remove(dec)
    extra = {}
    if frame in null_frames:
        extra["encrypt>null"] = run([os.devnull if a == enc else a for a in e])
        extra["decrypt>null"] = run([os.devnull if a == dec else a for a in d])
    os.remove(enc)
    return r_enc, r_dec, extra


def fmt(samples):
    walls = sorted(s[0] for s in samples)
    return walls[0], statistics.median(walls), statistics.median(s[1] for s in samples), max(s[2] for s in samples)


def page_cache_probe():
    """Seconds per GiB to write 256 MiB to a new file in 256 KiB writes (best of 3)."""
    path, block, best = os.path.join(work, "probe"), bytes(256 << 10), float("inf")
    for _ in range(3):
        os.sync()
        t = time.monotonic()
        with open(path, "wb") as f:
            for _ in range(1024):
                f.write(block)
        best = min(best, (time.monotonic() - t) * 4)
        os.remove(path)
    return best


def copy_seconds():
    """Seconds to copy the input to a new file with `cp` (one thread, in-kernel copy, no
    crypto; best of 3): aws-encryption-cli's best / this is the ratio a tool exactly as fast as
    a plain file copy would show in a file row."""
    path, best = os.path.join(work, "copy"), float("inf")
    for _ in range(3):
        os.sync()
        t = time.monotonic()
        subprocess.run(["cp", plain, path], check=True)
        best = min(best, time.monotonic() - t)
        os.remove(path)
    return best


sha = sha384_awslc_seconds()
sha_ossl = sha384_openssl_seconds()
print("file: %d MiB on %s; %d runs per cell, tools interleaved, sync before each run" % (
    size_mib, work, reps))
print("one core's SHA-384 over %d MiB, this run: aws-lc (esdk's backend) %.3f s (%.0f MB/s), "
      "OpenSSL %.3f s (%.0f MB/s)" % (size_mib, sha, size / sha / 1e6, sha_ossl, size / sha_ossl / 1e6))
print("page-cache write probe (no tool): %.3f s per GiB written to a new file" % page_cache_probe())
cp_s = copy_seconds()
print("cp of the input to a new file: %.3f s (the copy reference of the file rows)" % cp_s)
tools = ["esdk"] + ([] if skip_awscli else ["awscli"])
for suite in suites:
    signed = "ECDSA" in suite
    for frame in frames:
        ops = ("encrypt", "decrypt") + (("encrypt>null", "decrypt>null") if frame in null_frames else ())
        res = {(t, op): [] for op in ops for t in tools}
        for i in range(reps):
            order = tools if i % 2 == 0 else list(reversed(tools))
            for t in order:
                r_enc, r_dec, extra = tool_runs(t, suite, frame)
                res[(t, "encrypt")].append(r_enc)
                res[(t, "decrypt")].append(r_dec)
                for op, r in extra.items():
                    res[(t, op)].append(r)
        print("\nsuite %s, frame %d%s" % (suite, frame, " (default)" if frame == 4096 else ""))
        print("%-20s %8s %8s %8s %9s %9s" % ("run", "best s", "median s", "cpu s", "MiB/s", "peak MiB"))
        for (t, op), samples in res.items():
            b, m, c, rss = fmt(samples)
            print("%-20s %8.3f %8.3f %8.3f %9.1f %9.1f" % (t + "-" + op, b, m, c, size_mib / b, rss / 1024))
        for op in ops:
            if skip_awscli:
                if signed:
                    print("%s: esdk at %.2fx of the aws-lc SHA-384 time" % (op, fmt(res[("esdk", op)])[0] / sha))
                continue
            eb, em, ec, er = fmt(res[("esdk", op)])
            pb, pm, pc, pr = fmt(res[("awscli", op)])
            line = "%s: esdk %.1fx faster (best), %.1fx (median), %.1fx less CPU; peak RSS %.1f vs %.1f MiB" % (
                op, pb / eb, pm / em, pc / ec, er / 1024, pr / 1024)
            if ">null" not in op:
                line += "; as fast as cp would be %.1fx (aws-encryption-cli best / cp time)" % (pb / cp_s)
            if signed:
                line += "; SHA-384 ceiling %.1fx (aws-encryption-cli best / aws-lc SHA-384 time); esdk at %.2fx of that SHA-384 time" % (pb / sha, eb / sha)
            print(line)
print("\npage-cache write probe after the last cell: %.3f s per GiB" % page_cache_probe())
