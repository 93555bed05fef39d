// NodeBlocks.open on a data directory whose headers.dat is unusable (a power
// cut before it reached the disk, a stray write): as the other DIR files, it
// is reported, moved to headers.dat.bad and replaced, the chain rebuilt from
// the blocks in the store, rather than the node refusing to start.
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { NodeBlocks } from '../../ts/cli/node-blocks.js';
import { networkPreset } from '../../ts/config/schema.js';
import type { StoreError } from '../../ts/store/atomic-file.js';

const REGTEST = networkPreset('regtest');
const TMP = mkdtempSync(join(tmpdir(), 'peerwire-node-blocks-reopen-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const damages: [string, (path: string) => void][] = [
  ['truncated', (path) => truncateSync(path, 50)],
  [
    'holding a header that does not connect',
    (path) => {
      const bytes = readFileSync(path);
      const at = 48 + 5 * 80 + 40; // in the merkle root of the 6th header
      bytes[at] = (bytes[at] as number) ^ 1;
      writeFileSync(path, bytes);
    },
  ],
];

it.each(damages)(
  'a headers.dat %s is moved aside and the chain rebuilt from the stored blocks',
  async (name, damage) => {
    const datadir = join(TMP, name.replace(/ /g, '-'));
    const first = await NodeBlocks.open({ network: REGTEST, datadir, generate: 20 });
    const tip = first.chain.tipHash;
    await first.close();
    const headers = join(datadir, 'headers.dat');
    damage(headers);

    const problems: StoreError[] = [];
    const again = await NodeBlocks.open({
      network: REGTEST,
      datadir,
      generate: 0,
      onProblem: (p) => problems.push(p),
    });
    expect(again.chain.height).toBe(20);
    expect(again.chain.tipHash).toEqual(tip);
    expect(again.holding()).toEqual({ whole: true, fromTip: 21 });
    expect(problems.map((p) => [p.code, p.path])).toEqual([['corrupt', headers]]);
    expect(existsSync(`${headers}.bad`)).toBe(true);
    // Replaced: the rebuilt chain was written back.
    await again.close();
    const third = await NodeBlocks.open({ network: REGTEST, datadir, generate: 0 });
    expect(third.chain.height).toBe(20);
    await third.close();
  },
);

it("another network's headers.dat is refused and left where it is, not taken for damage", async () => {
  const datadir = join(TMP, 'other-network');
  const regtest = await NodeBlocks.open({ network: REGTEST, datadir, generate: 10 });
  await regtest.close();
  rmSync(join(datadir, 'blocks'), { recursive: true, force: true });
  const before = readFileSync(join(datadir, 'headers.dat'));
  await expect(
    NodeBlocks.open({ network: networkPreset('signet'), datadir, generate: 0 }),
  ).rejects.toThrow(/holds another network's headers/);
  expect(readFileSync(join(datadir, 'headers.dat')).equals(before)).toBe(true);
  expect(existsSync(join(datadir, 'headers.dat.bad'))).toBe(false);
});
