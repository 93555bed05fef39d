// Human output: progress bars (on a terminal), tables, log lines, and JSON for
// scripts. Text output carries peer-controlled strings (user agents, reject
// details), so every text line escapes what a terminal would act on.

// Control characters (C0, DEL, C1), format characters (bidi overrides,
// zero-width), line and paragraph separators, unpaired surrogates.
const UNPRINTABLE =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

/** `text` with every non-printable character shown as an escape (\n, \x1b, \u202e). */
export function escapeText(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * One `key=value` field of a text log line. Values with spaces, quotes, `=` or
 * anything non-printable are quoted and escaped, so a peer's string can neither
 * break the line nor pose as another field.
 */
export function logField(key: string, value: unknown): string {
  const text = String(value);
  if (/^[\x21-\x7e]*$/.test(text) && !/["=\\]/.test(text)) return `${key}=${text}`;
  return `${key}="${escapeText(text.replace(/["\\]/g, (c) => `\\${c}`))}"`;
}

/** A text log line: time, event, fields. */
export function logLine(event: string, fields: Record<string, unknown>, time = new Date()): string {
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => logField(k, v))
    .join(' ');
  return `${time.toISOString()} ${escapeText(event)} ${rest}`.trimEnd();
}

/** A count for people: an integer with thousands separators. */
export function formatCount(n: number): string {
  return Math.trunc(n).toLocaleString('en-US');
}

/** Progress on stderr: redrawn bars on a terminal, a line per quarter otherwise. */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private readonly rows = new Map<
    string,
    { done: number; total: number; reported: number; detail: string }
  >();
  private drawn = 0;

  constructor(private readonly enabled: boolean) {}

  /** Sets a row's bar; `detail` (rates, peers, ETA) is shown after it. */
  update(label: string, done: number, total: number, detail = ''): void {
    if (!this.enabled) return;
    label = escapeText(label);
    const row = this.rows.get(label) ?? { done: 0, total, reported: -1, detail: '' };
    row.done = done;
    row.total = total;
    row.detail = escapeText(detail);
    this.rows.set(label, row);
    if (this.tty) {
      this.draw();
      return;
    }
    const quarter = total > 0 ? Math.floor((4 * done) / total) : 4;
    if (quarter > row.reported) {
      row.reported = quarter;
      const tail = row.detail ? ` ${row.detail}` : '';
      process.stderr.write(`${label}: ${done}/${total} (${quarter * 25}%)${tail}\n`);
    }
  }

  private draw(): void {
    const width = 30;
    const lines = [...this.rows].map(([label, { done, total, detail }]) => {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(frac * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      const tail = detail ? ` ${detail}` : '';
      return `${label.padEnd(12)} ${bar} ${String(done).padStart(7)}/${total} ${(frac * 100).toFixed(0).padStart(3)}%${tail}`;
    });
    if (this.drawn > 0) process.stderr.write(`\x1b[${this.drawn}A`);
    process.stderr.write(`${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
    this.drawn = lines.length;
  }

  /** Leaves the bars drawn so far on screen; later bars start below them. */
  done(): void {
    this.drawn = 0;
    this.rows.clear();
  }
}

/** A plain-text table: numbers right-aligned, text left-aligned. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  rows = rows.map((r) => r.map((c) => (typeof c === 'string' ? escapeText(c) : c)));
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = (c: string) => /^[-+]?[\d,.]+\s*[×%]?$/.test(c);
  const fmt = (r: string[]) =>
    r
      .map((c, i) => {
        const w = widths[i] as number;
        return numeric(c) ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(headers), rule, ...rows.map((r) => fmt(r.map(String)))].join('\n');
}

/** JSON that can carry bigints (as decimal strings). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
