#!/usr/bin/env bash
# btcd, an independent full node in Go, for the interop tests: built from the Go
# module proxy into .tools/bin (once; about a minute on two cores). The tests
# look for it there, or at $PEERWIRE_BTCD.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v0.24.2
if [ -n "${PEERWIRE_BTCD:-}" ] && [ -x "$PEERWIRE_BTCD" ]; then
  exit 0 # a btcd of the user's own
fi
BIN=.tools/bin/btcd
case "$(uname -s)" in MINGW* | MSYS* | CYGWIN*) BIN=.tools/bin/btcd.exe ;; esac
if [ -x "$BIN" ] && [ "$(cat .tools/btcd.version 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-btcd: the interop tests need btcd, built with Go (https://go.dev/dl/); go is not on PATH" >&2
  exit 1
fi
mkdir -p .tools/bin
GOBIN="$PWD/.tools/bin" go install "github.com/btcsuite/btcd@$VERSION"
echo "$VERSION" > .tools/btcd.version
echo "btcd $VERSION installed in .tools/bin"
