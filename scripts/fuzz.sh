#!/usr/bin/env bash
# Runs every fuzzer for a set time: each cargo-fuzz target of crates/core/fuzz
# for FUZZ_SECONDS (default 60), then the TypeScript message-decoder fuzzer for
# FUZZ_SECONDS per property. Findings: crates/core/fuzz/artifacts/<target>/.
#   FUZZ_SECONDS=300 npm run fuzz          longer
#   FUZZ_TARGETS="decoder_split" npm run fuzz   some Rust targets only
#   FUZZ_SKIP_JS=1 / FUZZ_SKIP_RUST=1      one side only
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
fuzz_dir=crates/core/fuzz
step() { printf '\n== %s\n' "$*"; }

if [[ "${FUZZ_SKIP_RUST:-}" != 1 ]]; then
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 1
  fi
  targets="${FUZZ_TARGETS:-$(cd "$fuzz_dir" && cargo +nightly fuzz list)}"
  found=()
  for target in $targets; do
    step "cargo fuzz run $target (${seconds}s)"
    # New inputs go to work/ (ignored by git); corpus/ holds the committed seeds
    # and past findings and is only read.
    mkdir -p "$fuzz_dir/work/$target"
    if ! (cd "$fuzz_dir" && cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=16384 -print_final_stats=1); then
      found+=("$target")
    fi
  done
  if ((${#found[@]})); then
    echo >&2
    echo "fuzz.sh: findings in ${found[*]}: see $fuzz_dir/artifacts/<target>/." >&2
    echo "Copy each crash into $fuzz_dir/corpus/<target>/, fix it, and cargo test replays it." >&2
    exit 1
  fi
fi

if [[ "${FUZZ_SKIP_JS:-}" != 1 ]]; then
  step "TypeScript message decoders (${seconds}s per property)"
  PEERWIRE_FUZZ_SECONDS="$seconds" npx vitest run test/wire/fuzz-decode.test.ts
fi
