// The CLI's words: escaped log lines, addresses in --connect form, one-line
// reasons, network names for magics.
import { describe, expect, it, vi } from 'vitest';
import { addressForm, CliError, connectForm, hostPort, intFlag } from '../../ts/cli/args.js';
import {
  describeDisconnect,
  networkOfMagic,
  plainDisconnect,
  requireGenesisHeader,
} from '../../ts/cli/network.js';
import {
  escapeText,
  formatCount,
  logField,
  logLine,
  Progress,
  table,
} from '../../ts/cli/output.js';
import { networkPreset, parseNetwork } from '../../ts/config/schema.js';

const REGTEST = networkPreset('regtest');
const MAINNET = networkPreset('mainnet');

describe('text output escapes what a peer controls', () => {
  it('escapes control, format and separator characters', () => {
    expect(escapeText('a\nb\r\tc')).toBe('a\\nb\\r\\tc');
    expect(escapeText('\x1b[2K\x07\x7f\x9b')).toBe('\\x1b[2K\\x07\\x7f\\x9b');
    expect(escapeText('evil\u202egnp.exe\u200b\u2028')).toBe('evil\\u202egnp.exe\\u200b\\u2028');
    expect(escapeText('/Satoshi:27.0.0/ ünïcødé ✓')).toBe('/Satoshi:27.0.0/ ünïcødé ✓');
  });

  it('a forged log line stays inside its field', () => {
    const ua = '/x/\n2026-01-01T00:00:00.000Z banned host=10.0.0.1 reason=forged\x1b[1A';
    const line = logLine('handshake', { peer: 7, userAgent: ua }, new Date(0));
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toContain('\x1b');
    expect(line).toBe(
      '1970-01-01T00:00:00.000Z handshake peer=7 userAgent="/x/\\n2026-01-01T00:00:00.000Z banned host=10.0.0.1 reason=forged\\x1b[1A"',
    );
  });

  it('quotes values that could pass for other fields, and leaves plain ones bare', () => {
    expect(logField('address', '127.0.0.1:8333')).toBe('address=127.0.0.1:8333');
    expect(logField('ua', 'a b')).toBe('ua="a b"');
    expect(logField('ua', 'x=1')).toBe('ua="x=1"');
    expect(logField('ua', 'say "hi" \\o/')).toBe('ua="say \\"hi\\" \\\\o/"');
    expect(logField('ua', '')).toBe('ua=');
  });

  it('tables escape their cells', () => {
    const t = table(['peer', 'user agent'], [['127.0.0.1:1', 'evil\nline']]);
    expect(t.split('\n')).toHaveLength(3);
    expect(t).toContain('evil\\nline');
  });

  it('counts are whole numbers', () => {
    expect(formatCount(49.4)).toBe('49');
    expect(formatCount(1_234_567)).toBe('1,234,567');
  });
});

describe('addresses print in the form --connect takes', () => {
  it.each([
    ['::1:43139', '[::1]:43139', '::1'],
    ['fe80::1:8333', '[fe80::1]:8333', 'fe80::1'],
    ['[::1]:43139', '[::1]:43139', '::1'],
    ['127.0.0.1:18444', '127.0.0.1:18444', '127.0.0.1'],
  ])('%s prints as %s, which --connect parses back', (raw, printed, host) => {
    expect(addressForm(raw)).toBe(printed);
    const back = hostPort(printed, 'connect');
    expect(back.host).toBe(host);
    expect(connectForm(back.host, back.port)).toBe(printed);
  });
});

describe('why a connection ended, in one line', () => {
  it('does not repeat a detail that says what the reason says', () => {
    const ended = { reason: 'handshake-timeout', detail: 'handshake-timeout', sawVersion: true };
    expect(describeDisconnect(ended, MAINNET)).toBe('handshake-timeout');
    expect(plainDisconnect({ reason: 'io-error', detail: 'reset' })).toBe('io-error: reset');
    expect(plainDisconnect({ reason: 'peer-closed', detail: '' })).toBe('peer-closed');
  });

  it('names the network a bad magic belongs to', () => {
    const ended = { reason: 'bad-magic', detail: 'bad magic f9beb4d9', sawVersion: false };
    expect(describeDisconnect(ended, REGTEST)).toBe(
      'wrong network: the peer speaks mainnet (magic f9beb4d9), this node is regtest (magic fabfb5da)',
    );
    const unknown = { reason: 'bad-magic', detail: 'bad magic 01020304', sawVersion: false };
    expect(describeDisconnect(unknown, REGTEST)).toMatch(/unknown network \(magic 01020304\)/);
    expect(networkOfMagic('0B110907')).toBe('testnet3');
  });

  it('a peer that hangs up before its version is likely on another network', () => {
    const early = { reason: 'peer-closed', detail: 'connection closed by peer', sawVersion: false };
    expect(describeDisconnect(early, MAINNET)).toMatch(
      /^likely wrong network: .*mainnet's f9beb4d9.*--network/,
    );
    const late = { ...early, sawVersion: true };
    expect(describeDisconnect(late, MAINNET)).toBe('peer-closed: connection closed by peer');
  });
});

describe('flag checks', () => {
  it('an integer flag names its range', () => {
    expect(() => intFlag('501', 'nodes', 4, 1, 500)).toThrow(
      '--nodes must be an integer from 1 to 500, got "501"',
    );
    expect(() => intFlag('', 'nodes', 4)).toThrow(CliError);
    expect(intFlag('500', 'nodes', 4, 1, 500)).toBe(500);
  });

  it('--generate on a network without a genesis header says what to add', () => {
    const fork = parseNetwork({
      name: 'myfork',
      magic: '01020304',
      port: 1,
      genesisHash: '11'.repeat(32),
    });
    expect(() => requireGenesisHeader(fork)).toThrow(/add "genesisHeader"/);
    expect(() => requireGenesisHeader(REGTEST)).not.toThrow();
  });
});

describe('Progress', () => {
  function written(tty: boolean, draw: (p: Progress) => void): string {
    const was = process.stderr.isTTY;
    process.stderr.isTTY = tty;
    const out: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      draw(new Progress(true));
    } finally {
      spy.mockRestore();
      process.stderr.isTTY = was;
    }
    return out.join('');
  }

  it("shows a row's detail after its bar, escaped, on a terminal and off one", () => {
    const plain = written(false, (p) => {
      p.update('blocks', 10, 100, '1.0 blk/s');
      p.update('blocks', 50, 100, '2.5 blk/s 0.10 MB/s 3 peers ETA 20 s\x1b[2J');
    });
    // A line per quarter reached, not per update.
    expect(plain).toBe(
      'blocks: 10/100 (0%) 1.0 blk/s\nblocks: 50/100 (50%) 2.5 blk/s 0.10 MB/s 3 peers ETA 20 s\\x1b[2J\n',
    );
    const tty = written(true, (p) => p.update('blocks', 50, 100, '2.5 blk/s ETA 20 s'));
    expect(tty).toContain('     50/100  50% 2.5 blk/s ETA 20 s');
  });
});
