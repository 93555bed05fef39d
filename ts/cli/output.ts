// Human output: progress bars (on a terminal), tables, and JSON for scripts.

/** Progress on stderr: redrawn bars on a terminal, a line per quarter otherwise. */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private readonly rows = new Map<string, { done: number; total: number; reported: number }>();
  private drawn = 0;

  constructor(private readonly enabled: boolean) {}

  update(label: string, done: number, total: number): void {
    if (!this.enabled) return;
    const row = this.rows.get(label) ?? { done: 0, total, reported: -1 };
    row.done = done;
    row.total = total;
    this.rows.set(label, row);
    if (this.tty) {
      this.draw();
      return;
    }
    const quarter = total > 0 ? Math.floor((4 * done) / total) : 4;
    if (quarter > row.reported) {
      row.reported = quarter;
      process.stderr.write(`${label}: ${done}/${total} (${quarter * 25}%)\n`);
    }
  }

  private draw(): void {
    const width = 30;
    const lines = [...this.rows].map(([label, { done, total }]) => {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(frac * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      return `${label.padEnd(12)} ${bar} ${String(done).padStart(7)}/${total} ${(frac * 100).toFixed(0).padStart(3)}%`;
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
