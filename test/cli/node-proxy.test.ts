// `peerwire node` with SOCKS5 proxy flags, run as a user runs it: --connect to
// an onion through --onion (a node:net proxy in this process forwards it to an
// Engine on 127.0.0.1), and the usage errors of the proxy flags.
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddress } from '../../ts/addr/address.js';
import { Engine } from '../../ts/engine/engine.js';
import { exitOf, runCli, startCli } from '../helpers/cli.js';
import { Socks5Proxy } from '../helpers/socks5-proxy.js';
import { waitUntil } from '../helpers/wait.js';

const ONION = formatAddress({
  network: 'onion',
  bytes: new Uint8Array(32).map((_, i) => (i * 29 + 5) & 0xff),
  port: 18444,
});

const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('peerwire node through a SOCKS5 proxy', () => {
  it('--connect to an onion goes through --onion, and the log names the proxy', async () => {
    const hidden = new Engine({ network: 'regtest' });
    cleanup.push(() => hidden.close());
    const { port } = hidden.listen('127.0.0.1', 0);
    const proxy = new Socks5Proxy({ kind: 'forward', route: () => port });
    await proxy.listen();
    cleanup.push(() => proxy.close());
    const node = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--onion', proxy.address, '--connect', ONION, '--json'],
      /"event":"listening"/,
    );
    cleanup.push(() => node.child.kill('SIGKILL'));
    const events = () => node.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitUntil('the handshake through the proxy', () =>
      events().some((e) => e.event === 'handshake'),
    );
    expect(events().find((e) => e.event === 'listening')?.reachable).toBe('ipv4,ipv6,onion');
    expect(events().find((e) => e.event === 'connected')).toMatchObject({
      address: ONION,
      inbound: false,
      kind: 'manual',
      proxy: proxy.address,
    });
    expect(proxy.asked[0]).toMatchObject({ atyp: 3, host: ONION.slice(0, -6), port: 18444 });
    node.child.kill('SIGTERM');
    expect(await exitOf(node.child)).toBe(0);
  });

  it.each([
    [
      ['--connect', ONION],
      /--connect \S+\.onion:18444 is a Tor address, dialled only through a SOCKS5 proxy: give --onion HOST:PORT or --proxy HOST:PORT$/,
    ],
    [['--onion', 'localhost'], /--onion must be HOST:PORT/],
    [['--i2p-proxy', '[::1:4447'], /--i2p-proxy must be HOST:PORT/],
    [['--no-proxy-randomize'], /--no-proxy-randomize has no use without --proxy/],
    [
      ['--external', ONION],
      /--external \S+: a node announces only addresses on networks it reaches; give --onion or --proxy HOST:PORT$/,
    ],
  ])('%j is a usage error: exit 2, one line', async (args, message) => {
    const r = await runCli(['node', '--listen', '127.0.0.1:0', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(message);
  });
});
