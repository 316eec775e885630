#!/usr/bin/env python3
"""Enforces deny.toml's licence and source rules on the locked dependency graph.

Reads deny.toml and `cargo metadata --locked --format-version 1` (every package of the lock
file: all features, all targets) and fails when
  * a package's licence expression cannot be satisfied with `[licenses] allow`
    (SPDX: OR, AND, WITH, parentheses; the legacy `/` means OR), or it declares no licence;
  * a package comes from anywhere but crates.io (git, another registry, a path outside the
    workspace);
  * an accepted advisory (`[advisories] ignore`) is not described below, or its crate is no
    longer in the graph (the exception is stale and must go).
The RustSec database itself cannot be fetched in CI (only package registries are reachable),
so new advisories are found with `cargo deny check advisories` where it can run.

It also enforces which code may name a crypto backend (issue 13: "nothing in esdk-std or
esdk-kms names a backend except where the default is chosen"):
  * in esdk-std's sources, only `std-ext/src/provider/` (the backends and `Backend::default`)
    and test-only files (`*_tests.rs`) may name a backend crate (`aws_lc_rs`, `rsa`, `p256`,
    `sha2`, ... or `OsRng`, `RustCrypto`);
  * esdk-kms's sources name none, and its manifest depends on none.

Usage: python3 .ci/deps_policy.py [--self-test]
"""
import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Crate each accepted advisory is about (keep in step with deny.toml).
ADVISORY_CRATES = {"RUSTSEC-2023-0071": "rsa"}

# Crates that implement cryptography (package names; in Rust paths `-` becomes `_`), and the
# other names that choose a backend.
BACKEND_CRATES = ["aws-lc-rs", "aws-lc-sys", "rsa", "p256", "p384", "p521", "sha1", "sha2",
                  "aes-gcm", "hkdf", "hmac", "ecdsa", "elliptic-curve", "ring", "openssl"]
BACKEND_NAMES = ["OsRng", "RustCrypto"]
# Source trees checked, and the paths under them that may name a backend.
BACKEND_SCOPES = {
    "std-ext/src": ["std-ext/src/provider/"],
    "kms-ext/src": [],
}
BACKEND_FREE_MANIFESTS = ["kms-ext/Cargo.toml"]


def backend_mentions(path, text, local_modules=()):
    """(line number, name) of every backend crate path or backend name in Rust source `text`
    (comments skipped; a crate's own modules of the same name are not the crate)."""
    crates = [c.replace("-", "_") for c in BACKEND_CRATES if c.replace("-", "_") not in local_modules]
    crate_re = re.compile(r"(?<![\w:])(" + "|".join(map(re.escape, crates)) + r")::")
    name_re = re.compile(r"\b(" + "|".join(BACKEND_NAMES) + r")\b")
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        for m in list(crate_re.finditer(code)) + list(name_re.finditer(code)):
            found.append((no, m.group(1)))
    return found


def check_backend_names(root):
    problems = []
    for scope, allowed in BACKEND_SCOPES.items():
        base = root / scope
        files = sorted(base.rglob("*.rs"))
        local = {f.stem for f in files} | {f.parent.name for f in files if f.name == "mod.rs"}
        for f in files:
            rel = f.relative_to(root).as_posix()
            if any(rel.startswith(a) for a in allowed) or rel.endswith("_tests.rs"):
                continue
            for no, name in backend_mentions(rel, f.read_text(), local):
                problems.append(f"{rel}:{no}: names the backend `{name}` outside the provider module")
    for manifest in BACKEND_FREE_MANIFESTS:
        deps = tomllib.loads((root / manifest).read_text()).get("dependencies", {})
        for name in deps:
            if name in BACKEND_CRATES:
                problems.append(f"{manifest}: depends on the backend crate {name}")
    return problems


def tokens(expr):
    expr = expr.replace("/", " OR ")
    return re.findall(r"\(|\)|[A-Za-z0-9.+:-]+", expr)


def satisfiable(expr, allow):
    """Whether the SPDX expression can be met with licences from `allow`."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        tok = peek()
        if tok is None:
            raise ValueError(f"unexpected end of licence expression {expr!r}")
        pos += 1
        return tok

    def factor():
        tok = take()
        if tok == "(":
            value = disjunction()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expr!r}")
            return value
        if tok in ("AND", "OR", "WITH", ")"):
            raise ValueError(f"unexpected {tok!r} in {expr!r}")
        name = tok.removesuffix("+")
        if peek() == "WITH":
            take()
            exception = take()
            # An exception only adds permissions to its licence.
            return f"{name} WITH {exception}" in allow or name in allow
        return name in allow

    def conjunction():
        value = factor()
        while peek() == "AND":
            take()
            value = factor() and value
        return value

    def disjunction():
        value = conjunction()
        while peek() == "OR":
            take()
            value = conjunction() or value
        return value

    result = disjunction()
    if peek() is not None:
        raise ValueError(f"trailing {peek()!r} in {expr!r}")
    return result


def crates_io(source):
    # cargo names crates.io by its canonical index id, whatever mirror or protocol serves it.
    return (
        source is not None
        and source.startswith("registry+")
        and source.rstrip("/").endswith("/rust-lang/crates.io-index")
    )


def check(metadata, policy):
    allow = set(policy["licenses"]["allow"])
    members = set(metadata["workspace_members"])
    problems = []
    licences = Counter()
    names = set()
    for pkg in metadata["packages"]:
        label = f"{pkg['name']} {pkg['version']}"
        names.add(pkg["name"])
        expr = pkg.get("license")
        if not expr:
            problems.append(f"{label}: no SPDX licence declared (license-file: {pkg.get('license_file')})")
        else:
            licences[expr] += 1
            try:
                if not satisfiable(expr, allow):
                    problems.append(f"{label}: licence {expr!r} is not allowed by deny.toml")
            except ValueError as e:
                problems.append(f"{label}: {e}")
        if pkg["id"] in members:
            continue
        if not crates_io(pkg.get("source")):
            problems.append(f"{label}: source {pkg.get('source') or 'a local path'} is not crates.io")
    accepted = []
    for entry in policy.get("advisories", {}).get("ignore", []):
        advisory = entry["id"] if isinstance(entry, dict) else entry
        crate = ADVISORY_CRATES.get(advisory)
        if crate is None:
            problems.append(f"{advisory}: accepted in deny.toml but its crate is not named in .ci/deps_policy.py")
        elif crate not in names:
            problems.append(f"{advisory}: {crate} is no longer a dependency; remove the exception from deny.toml")
        elif not (isinstance(entry, dict) and entry.get("reason")):
            problems.append(f"{advisory}: accepted without a reason")
        else:
            versions = sorted(p["version"] for p in metadata["packages"] if p["name"] == crate)
            accepted.append(f"{advisory} ({crate} {', '.join(versions)})")
    return problems, licences, accepted


def self_test():
    allow = {"MIT", "Apache-2.0", "ISC", "Apache-2.0 WITH LLVM-exception"}
    cases = {
        "MIT": True,
        "MIT OR Apache-2.0": True,
        "MIT/Apache-2.0": True,
        "GPL-3.0-only": False,
        "GPL-3.0-only OR MIT": True,
        "MIT AND GPL-3.0-only": False,
        "ISC AND (Apache-2.0 OR ISC) AND (MIT OR GPL-2.0)": True,
        "(MIT OR GPL-2.0) AND LGPL-2.1": False,
        "Apache-2.0 WITH LLVM-exception OR BSD-3-Clause": True,
        "GPL-2.0 WITH Classpath-exception-2.0": False,
    }
    for expr, want in cases.items():
        got = satisfiable(expr, allow)
        assert got == want, f"{expr!r}: {got}, expected {want}"
    for bad in ["MIT OR", "(MIT", "MIT)"]:
        try:
            satisfiable(bad, allow)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} parsed")
    meta = {
        "workspace_members": ["ws"],
        "packages": [
            {"id": "ws", "name": "ws", "version": "0.1.0", "license": "Apache-2.0", "source": None},
            {"id": "a", "name": "a", "version": "1.0.0", "license": "GPL-3.0-only",
             "source": "registry+https://example.invalid/rust-lang/crates.io-index"},
            {"id": "b", "name": "b", "version": "1.0.0", "license": "MIT",
             "source": "git+https://example.invalid/b.git#0"},
            {"id": "c", "name": "c", "version": "1.0.0", "license": None, "source": None},
        ],
    }
    policy = {"licenses": {"allow": ["MIT", "Apache-2.0"]},
              "advisories": {"ignore": [{"id": "RUSTSEC-2023-0071", "reason": "x"}, "RUSTSEC-0000-0000"]}}
    problems, _, _ = check(meta, policy)
    expected = ["a 1.0.0: licence", "b 1.0.0: source git+", "c 1.0.0: no SPDX", "c 1.0.0: source a local path",
                "RUSTSEC-2023-0071: rsa is no longer", "RUSTSEC-0000-0000: accepted"]
    for e in expected:
        assert any(p.startswith(e) for p in problems), f"missing {e!r} in {problems}"
    assert len(problems) == len(expected), problems
    src = "\n".join([
        "use aws_lc_rs::rsa as lc;",           # 1: a backend crate
        "let k = rsa::RsaPrivateKey::new();",  # 2: rsa
        "// sha2::Sha256 in a comment",        # 3: skipped
        "let r = rand_core::OsRng;",           # 4: OsRng
        "pub use rsa::{A, B};",                # 5: a local module of that name: not the crate
        "use esdk_kms::rsa::X;",               # 6: a path inside another crate
        "let p = RustCryptoAeadKey;",          # 7: another identifier
    ])
    got = backend_mentions("x.rs", src, local_modules={"rsa"})
    assert got == [(1, "aws_lc_rs"), (4, "OsRng")], got
    got = backend_mentions("x.rs", src)
    assert got == [(1, "aws_lc_rs"), (2, "rsa"), (4, "OsRng"), (5, "rsa")], got
    print(f"deps policy self-test: {len(cases) + 3} expressions, {len(expected)} violations found as expected, "
          f"backend names found in code and not in comments or local modules")


def main():
    if "--self-test" in sys.argv:
        self_test()
        return 0
    policy = tomllib.loads((ROOT / "deny.toml").read_text())
    out = subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    metadata = json.loads(out)
    problems, licences, accepted = check(metadata, policy)
    problems += check_backend_names(ROOT)
    total = len(metadata["packages"])
    members = len(metadata["workspace_members"])
    if problems:
        print(f"deps policy: {len(problems)} violation(s) of deny.toml / the backend rule:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"deps policy: {total} packages ({members} workspace crates, {total - members} from crates.io), "
          f"{len(licences)} distinct licence expressions, all allowed; sources: crates.io only")
    print(f"deps policy: accepted advisories: {', '.join(accepted) or 'none'} (reasons in deny.toml)")
    print("deps policy: no backend named in esdk-std outside src/provider/, none in esdk-kms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
