# Sourced by smoke.sh, campaign.sh and coverage.sh: picks the toolchain for cargo-fuzz.
# Sets FUZZ (the cargo-fuzz command as an array), RUSTC (rustc with the same toolchain),
# HOST (the host triple) and SYSROOT. Nightly is used when installed; otherwise the stable
# toolchain with RUSTC_BOOTSTRAP=1, which accepts the sanitizer flags' nightly features.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
  RUSTC=(rustc +nightly)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
  RUSTC=(rustc)
fi
HOST="$("${RUSTC[@]}" -vV | sed -n 's/^host: //p')"
SYSROOT="$("${RUSTC[@]}" --print sysroot)"
