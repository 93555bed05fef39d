#!/usr/bin/env bash
# The whole test suite: formatting, lints, type check, Rust tests, the package
# as users install it, then the addon tests, on an addon built here with the
# test hooks (npm ci builds the release addon, which has none).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
step "TypeScript type check"
npx tsc -p tsconfig.json --noEmit
step "biome lint"
npx biome check .
step "workflow validation"
for f in .github/workflows/*.yml; do npx action-validator "$f"; done
step "cargo test"
cargo test --workspace --quiet
step "build the addon the tests use (with the test hooks: forced panics)"
npm run build:native
step "build the TypeScript (the CLI tests run dist/ as a user would)"
npm run build:ts
step "package: stage, dry-run publish, pack, install into an empty project, use it"
bash scripts/package-test.sh
step "simulation: 100 seeds through every scenario, every fault kind and invariant exercised"
node dist/cli/main.js sim --seeds 1..100 --scenario all --coverage
step "btcd for the interop tests (Go module proxy, once)"
bash scripts/install-btcd.sh
step "vitest"
npx vitest run
