// npm's `prepare`: runs on `npm install`/`npm ci` in a checkout, when npm
// installs peerwire from git, and before `npm pack`. It builds the TypeScript,
// and the native addon only when none loads here (or the Rust sources are newer
// than the local build): packing a checkout never pays for a full cargo build,
// and a platform with no prebuilt binary gets one built from source, or a clear
// word on what to install when Rust is missing.
//
//   PEERWIRE_NATIVE_PROFILE=release|debug   the profile of a build (default:
//                                           release, without test hooks: npm
//                                           cannot reliably tell a checkout from
//                                           a git dependency being prepared, and
//                                           what users get must be the release
//                                           build; `npm test` builds its own
//                                           addon with the test hooks)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const say = (line) => process.stderr.write(`peerwire prepare: ${line}\n`);

function run(command, args) {
  const r = spawnSync(command, args, { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Newest modification time under `dir` of files whose name passes `keep`. */
function newest(dir, keep) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'target' && entry.name !== 'fuzz')
        latest = Math.max(latest, newest(path, keep));
    } else if (keep(entry.name)) {
      latest = Math.max(latest, statSync(path).mtimeMs);
    }
  }
  return latest;
}

// 1. The TypeScript (a checkout has ts/ and typescript among its dev dependencies).
const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
if (existsSync('ts') && existsSync(tsc)) {
  say('building the TypeScript');
  run(process.execPath, [tsc, '-p', 'tsconfig.build.json']);
} else if (!existsSync(join('dist', 'index.js'))) {
  say('no dist/ and no TypeScript compiler to build it: run npm install (with dev dependencies)');
  process.exit(1);
}

// 2. The native addon, when none loads or the local build is older than its sources.
const { nativeLoadError, platformTarget } = await import(
  pathToFileURL(join(root, 'dist', 'native', 'binding.js')).href
);
const target = platformTarget();
const localBuild = join('native', `peerwire.${target}.node`);
const sourcesNewer =
  existsSync(localBuild) &&
  existsSync('crates') &&
  Math.max(
    newest('crates', (name) => name.endsWith('.rs') || name === 'Cargo.toml'),
    existsSync('Cargo.lock') ? statSync('Cargo.lock').mtimeMs : 0,
  ) > statSync(localBuild).mtimeMs;
// A stale build is not loaded first: the build below overwrites the file.
const loadError = sourcesNewer ? undefined : nativeLoadError();
if (!loadError && !sourcesNewer) {
  say(`the native addon for ${target} loads; not rebuilding it`);
  process.exit(0);
}
if (!existsSync('crates')) {
  say(`no native addon loads for ${target}, and this copy has no Rust sources to build one from.`);
  say(loadError ? loadError.message : 'the local build is stale');
  process.exit(1);
}
const cargo = spawnSync('cargo', ['--version'], {
  encoding: 'utf8',
  shell: process.platform === 'win32',
});
if (cargo.error || cargo.status !== 0) {
  say(
    `no prebuilt native addon for ${target} is installed, and building it from source needs ` +
      'Rust, which is not installed here (cargo is not on PATH).',
  );
  say(
    'Install Rust (stable) from https://rustup.rs, open a new shell so cargo is on PATH, ' +
      'then install peerwire again (or run "npm run build:native" in this checkout).',
  );
  process.exit(1);
}
const profile = process.env.PEERWIRE_NATIVE_PROFILE ?? 'release';
say(
  `${loadError ? `no native addon loads for ${target}` : 'the Rust sources changed'}: ` +
    `building it with ${cargo.stdout.trim()} (${profile})`,
);
// build:native is the development build (with the test hooks the test suite
// uses); build:native:dist is what a release publishes (optimised, no hooks).
run('npm', ['run', profile === 'release' ? 'build:native:dist' : 'build:native']);
