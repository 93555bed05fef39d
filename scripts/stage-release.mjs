// Stages the packages a release publishes, the napi-rs way: one package per
// target holding its binary (npm/<target>, e.g. peerwire-linux-x64-gnu), and
// peerwire itself with optionalDependencies on every one of them, so npm
// installs only the binary matching the user's OS, CPU and libc. The release
// job publishes what this stages; CI stages, dry-runs the publish and installs
// the result for this machine's target (scripts/package-test.sh).
//
//   node scripts/stage-release.mjs --out DIR [--all]
//
// Binaries are taken from npm/<target>/ (where `napi artifacts` puts the
// release builds) or native/ (a local build). With --all, a missing binary is
// an error (the release job); without it, targets without a binary are left
// out of DIR but still listed in peerwire's optionalDependencies.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTriple } from '@napi-rs/cli';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: { out: { type: 'string' }, all: { type: 'boolean' } },
});
if (!values.out) {
  console.error('usage: node scripts/stage-release.mjs --out DIR [--all]');
  process.exit(2);
}
const out = resolve(values.out);
const fail = (why) => {
  console.error(`stage-release: ${why}`);
  process.exit(1);
};

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
const pkg = readJson(join(root, 'package.json'));
const binaryName = pkg.napi.binaryName;
const targets = pkg.napi.targets.map((triple) => parseTriple(triple).platformArchABI);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The main package: exactly what `npm pack` takes from the checkout (the
// `files` list), minus any local binary, plus the optional dependencies.
const packed = execFileSync(
  'npm',
  ['pack', '--ignore-scripts', '--json', '--pack-destination', out],
  { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' },
);
const tarball = join(out, JSON.parse(packed)[0].filename);
const main = join(out, pkg.name);
mkdirSync(main);
execFileSync('tar', ['-xzf', tarball, '-C', main, '--strip-components=1']);
rmSync(tarball);
for (const abi of targets)
  rmSync(join(main, 'native', `${binaryName}.${abi}.node`), { force: true });
const mainJson = readJson(join(main, 'package.json'));
mainJson.optionalDependencies = Object.fromEntries(
  targets.map((abi) => [`${pkg.name}-${abi}`, pkg.version]),
);
// Its scripts build a checkout (prepare needs scripts/ and crates/, which are
// not shipped); an installed package has nothing to build.
delete mainJson.scripts;
writeJson(join(main, 'package.json'), mainJson);
for (const required of [
  'dist/index.js',
  'dist/index.d.ts',
  'dist/cli/main.js',
  'native/index.cjs',
]) {
  if (!existsSync(join(main, required))) fail(`the main package lacks ${required}: build first`);
}

// One package per target, versioned and described like the main package.
const staged = [pkg.name];
const skipped = [];
for (const abi of targets) {
  const name = `${pkg.name}-${abi}`;
  const file = `${binaryName}.${abi}.node`;
  const template = join(root, 'npm', abi, 'package.json');
  if (!existsSync(template)) fail(`npm/${abi}/package.json is missing (napi create-npm-dirs)`);
  const binary = [join(root, 'npm', abi, file), join(root, 'native', file)].find(existsSync);
  if (!binary) {
    if (values.all) fail(`no binary for ${abi}: expected npm/${abi}/${file}`);
    skipped.push(abi);
    continue;
  }
  const dir = join(out, abi);
  mkdirSync(dir);
  const manifest = readJson(template);
  if (manifest.name !== name)
    fail(`npm/${abi}/package.json is named ${manifest.name}, not ${name}`);
  for (const field of ['version', 'license', 'homepage', 'bugs', 'repository', 'engines']) {
    manifest[field] = pkg[field];
  }
  writeJson(join(dir, 'package.json'), manifest);
  copyFileSync(binary, join(dir, file));
  for (const extra of ['README.md']) {
    if (existsSync(join(root, 'npm', abi, extra))) {
      copyFileSync(join(root, 'npm', abi, extra), join(dir, extra));
    }
  }
  copyFileSync(join(root, 'LICENSE'), join(dir, 'LICENSE'));
  staged.push(name);
}
console.log(`staged in ${out}: ${staged.join(', ')}`);
if (skipped.length > 0) console.log(`no binary here for: ${skipped.join(', ')}`);
