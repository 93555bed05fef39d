#!/usr/bin/env bash
# Proves the published shape on this machine: stage the packages a release
# publishes (peerwire + the package for this platform's binary), run the
# publish step as a dry run, pack them, install both tarballs into an empty
# project, and use peerwire from there as a user would: the command, a short
# demo, ESM and CommonJS imports, and a TypeScript file that type-checks under
# nodenext and bundler resolution. Expects the TypeScript and the addon built.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/peerwire-package-XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf -- '-- %s\n' "$*"; }

step "stage the release packages"
node scripts/stage-release.mjs --out "$work/stage"
version=$(node -p "require('./package.json').version")
target=$(node --input-type=module -e "import { platformTarget } from './dist/native/binding.js'; console.log(platformTarget())")
main_dir="$work/stage/peerwire"
platform_dir="$work/stage/$target"
[ -d "$platform_dir" ] || { echo "no binary staged for $target: build the addon first" >&2; exit 1; }

step "publish, dry run (what the release job runs)"
for dir in "$platform_dir" "$main_dir"; do
  npm publish --dry-run --ignore-scripts --access public "$dir" >/dev/null 2>"$work/publish.log" ||
    { cat "$work/publish.log" >&2; exit 1; }
done

step "pack, and check what each tarball holds"
mkdir "$work/tarballs"
for dir in "$platform_dir" "$main_dir"; do
  (cd "$work/tarballs" && npm pack --ignore-scripts --json "$dir" >"$(basename "$dir").json")
done
node - "$work/tarballs" "$target" <<'EOF'
const { readFileSync } = require('node:fs');
const [dir, target] = process.argv.slice(2);
const files = (name) => JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8'))[0].files.map((f) => f.path);
const main = files('peerwire');
const platform = files(target);
const problems = [];
for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'native/index.cjs', 'native/index.d.cts']) {
  if (!main.includes(f)) problems.push(`peerwire lacks ${f}`);
}
for (const f of main) {
  if (f.endsWith('.map')) problems.push(`peerwire ships a source map: ${f}`);
  if (f.endsWith('.node')) problems.push(`peerwire ships a binary: ${f}`);
  if (f.startsWith('ts/') || f.startsWith('crates/') || f.startsWith('test/')) problems.push(`peerwire ships ${f}`);
}
for (const f of [`peerwire.${target}.node`, 'LICENSE', 'package.json']) {
  if (!platform.includes(f)) problems.push(`peerwire-${target} lacks ${f}`);
}
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`peerwire: ${main.length} files; peerwire-${target}: ${platform.join(', ')} (v${manifest.version})`);
EOF

step "install both tarballs into an empty project"
app="$work/app"
mkdir "$app"
cat >"$app/package.json" <<'EOF'
{ "name": "peerwire-consumer", "version": "1.0.0", "private": true, "type": "module" }
EOF
# Cached packages first (npm ci cached zod); the registry only for what is not.
(cd "$app" && npm install --no-audit --no-fund --prefer-offline \
  "$work/tarballs/peerwire-$version.tgz" "$work/tarballs/peerwire-$target-$version.tgz")
node -e "
const installed = require('$app/node_modules/peerwire/package.json');
const optional = Object.keys(installed.optionalDependencies ?? {});
const targets = require('./package.json').napi.targets.length;
if (optional.length !== targets || !optional.includes('peerwire-$target')) {
  console.error('peerwire should depend on all ' + targets + ' platform packages, has: ' + optional);
  process.exit(1);
}
"

cd "$app"
step "npx peerwire --version"
got=$(npx --no-install peerwire --version)
[ "$got" = "$version" ] || { echo "peerwire --version printed \"$got\", expected $version" >&2; exit 1; }

step "npx peerwire demo"
npx --no-install peerwire demo --headers 500 --nodes 2 >demo.txt
grep -q "all 2 nodes synced and validated 500 headers" demo.txt || { cat demo.txt >&2; exit 1; }
tail -1 demo.txt

step "import (ESM) and require (CommonJS, Node >= 20.19)"
node --input-type=module -e "
import { Engine, sha256d } from 'peerwire';
if (typeof Engine !== 'function') throw new Error('no Engine');
if (sha256d(Buffer.alloc(0)).toString('hex').slice(0, 8) !== '5df6e0e2') throw new Error('bad sha256d');
"
node -e "
const { networkPreset } = require('peerwire');
if (networkPreset('regtest').magic !== 'fabfb5da') throw new Error('bad preset');
"

step "a TypeScript consumer type-checks under nodenext and bundler resolution"
cat >consumer.ts <<'EOF'
// A user's file: peerwire's published types, imported by the package name.
import {
  Engine,
  hashToHex,
  headerHash,
  hexToHash,
  NativeTransport,
  networkPreset,
  type Peer,
  type SendResult,
} from 'peerwire';

const engine = new Engine({ network: 'regtest', limits: { maxOutbound: 4 } });
engine.on('handshake', async (peer: Peer) => {
  const genesis = hexToHash(networkPreset('regtest').genesisHash);
  const { payload } = await peer.request({
    command: 'getheaders',
    payload: { version: 70016, locator: [genesis], hashStop: new Uint8Array(32) },
  });
  const last = payload.headers.at(-1);
  if (last) console.log(`${peer} tip ${hashToHex(headerHash(last))}`);
});
const queued: SendResult = 'queued';
// @ts-expect-error: the types know which results exist
const bogus: SendResult = 'sent';
export { bogus, engine, NativeTransport, queued };
EOF
for resolution in nodenext bundler; do
  module=$([ "$resolution" = nodenext ] && echo nodenext || echo esnext)
  cat >"tsconfig.$resolution.json" <<EOF
{
  "compilerOptions": {
    "module": "$module",
    "moduleResolution": "$resolution",
    "target": "es2022",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false,
    "types": ["node"],
    "typeRoots": ["$repo/node_modules/@types"]
  },
  "files": ["consumer.ts"]
}
EOF
  node "$repo/node_modules/typescript/bin/tsc" -p "tsconfig.$resolution.json"
  echo "$resolution: ok"
done

echo "package test passed: peerwire $version with peerwire-$target, installed from tarballs"
