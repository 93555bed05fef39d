// The README as a user reads it: every flag of every command listed, no link
// leaving the repository, code that imports what an installed package exports.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** A `## heading` section of the README, up to the next `## `. */
function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README section "${heading}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 4);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe('README', () => {
  it('lists every flag of every command', async () => {
    const cli = section('The `peerwire` command');
    for (const command of ['demo', 'sync', 'node', 'bench', 'sim', 'crawl']) {
      const help = (await runCli([command, '--help'])).stdout;
      const options = help.slice(help.indexOf('Options:'));
      const flags = [...options.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]);
      expect(flags.length, command).toBeGreaterThan(1);
      const row = cli.split('\n').find((line) => line.startsWith(`| \`peerwire ${command} `));
      expect(row, `the table row for peerwire ${command}`).toBeDefined();
      for (const flag of flags) {
        if (flag === '--help') continue;
        expect(row, `peerwire ${command} ${flag}`).toMatch(new RegExp(`${flag}\\b`));
      }
    }
    expect(cli).toContain('--version');
  });

  it('links only to files in the repository', () => {
    const targets = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1] as string);
    for (const target of targets) {
      if (/^https?:\/\//.test(target) || target.startsWith('#')) continue;
      expect(target, target).not.toMatch(/^\.\.\//);
      expect(existsSync(join(ROOT, target.split('#')[0] as string)), target).toBe(true);
    }
    expect(readme).not.toContain('../shared');
  });

  it("imports in code examples come from 'peerwire', as installed", () => {
    const specifiers = [...readme.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const s of specifiers) expect(s).toMatch(/^(peerwire|node:.+)$/);
  });
});
