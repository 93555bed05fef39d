import { describe, expect, it } from 'vitest';
import { PeerLogLimit } from '../../ts/cli/peer-log-limit.js';
import { ManualClock } from '../../ts/engine/clock.js';

function setup() {
  const clock = new ManualClock();
  const lines: Array<{ event: string } & Record<string, unknown>> = [];
  const limit = new PeerLogLimit(clock, (event, fields) => lines.push({ event, ...fields }), {
    lines: 3,
    windowMs: 1_000,
  });
  return { clock, lines, limit };
}

describe('PeerLogLimit', () => {
  it('logs a peer’s first lines of a kind, counts the rest, and reports the count once the window has passed', () => {
    const { clock, lines, limit } = setup();
    for (let i = 0; i < 1_000; i++) limit.log(7, 'getheaders', { peer: 7, i });
    expect(lines.map((l) => l.i)).toEqual([0, 1, 2]);
    clock.advance(999);
    limit.log(7, 'getheaders', { peer: 7, i: 1_000 });
    expect(lines).toHaveLength(3);
    clock.advance(1);
    limit.log(7, 'getheaders', { peer: 7, i: 1_001 });
    expect(lines.slice(3)).toEqual([
      { event: 'log-suppressed', peer: 7, of: 'getheaders', lines: 998, overMs: 1_000 },
      { event: 'getheaders', peer: 7, i: 1_001 },
    ]);
  });

  it('keeps separate budgets per peer and per kind of line', () => {
    const { lines, limit } = setup();
    for (let i = 0; i < 5; i++) {
      limit.log(1, 'addr', { peer: 1 });
      limit.log(1, 'misbehaving', { peer: 1 });
      limit.log(2, 'addr', { peer: 2 });
    }
    const count = (event: string, peer: number) =>
      lines.filter((l) => l.event === event && l.peer === peer).length;
    expect([count('addr', 1), count('misbehaving', 1), count('addr', 2)]).toEqual([3, 3, 3]);
  });

  it('reports what was suppressed when the peer goes, and forgets it', () => {
    const { clock, lines, limit } = setup();
    for (let i = 0; i < 5; i++) limit.log(4, 'addr', { peer: 4 });
    limit.log(4, 'getaddr', { peer: 4 });
    clock.advance(250);
    limit.forget(4);
    expect(lines.slice(4)).toEqual([
      { event: 'log-suppressed', peer: 4, of: 'addr', lines: 2, overMs: 250 },
    ]);
    // Nothing left to report; a later peer with the same id starts afresh.
    limit.forget(4);
    limit.log(4, 'addr', { peer: 4 });
    expect(lines).toHaveLength(6);
    expect(lines[5]).toEqual({ event: 'addr', peer: 4 });
  });

  it('keyed by netgroup: keys nobody forgets are reported and let go once their windows pass', () => {
    const clock = new ManualClock();
    const lines: Array<{ event: string } & Record<string, unknown>> = [];
    const limit = new PeerLogLimit<string>(
      clock,
      (event, fields) => lines.push({ event, ...fields }),
      {
        lines: 2,
        windowMs: 1_000,
        keyField: 'group',
      },
    );
    for (let g = 0; g < 100; g++) {
      for (let i = 0; i < 3; i++) limit.log(`g${g}`, 'connected', { g });
    }
    expect(lines).toHaveLength(200);
    clock.advance(1_000);
    // The next line sweeps: each group's one suppressed line is reported, under `group`.
    limit.log('other', 'connected', {});
    const reports = lines.filter((l) => l.event === 'log-suppressed');
    expect(reports).toHaveLength(100);
    expect(reports[0]).toEqual({
      event: 'log-suppressed',
      group: 'g0',
      of: 'connected',
      lines: 1,
      overMs: 1_000,
    });
    expect((limit as unknown as { windows: Map<string, unknown> }).windows.size).toBe(1);
    // flush reports what is still counted, and lets everything go.
    limit.log('other', 'connected', {});
    limit.log('other', 'connected', {});
    limit.flush();
    expect(lines.at(-1)).toEqual({
      event: 'log-suppressed',
      group: 'other',
      of: 'connected',
      lines: 1,
      overMs: 0,
    });
    expect((limit as unknown as { windows: Map<string, unknown> }).windows.size).toBe(0);
  });
});
