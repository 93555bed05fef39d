// DIR/.lock: one process per data directory, `peerwire node` or `peerwire
// sync --blocks` alike (Core locks its datadir too): two would append to the
// same block store and overwrite, or delete, each other's files. The lock holds
// the owner's pid; one left by a process that is gone (kill -9) is taken over.
import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './args.js';

export const LOCK_FILE = '.lock';

/**
 * Takes DIR/.lock for this process; returns its release. A lock held by a
 * live process is a failure (exit 1); one left by a process that is gone is
 * taken over.
 */
export function lockDatadir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  // The lock appears with its pid in it (a link to a file already written), so
  // another taker never reads an empty lock from us and takes it for stale.
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 });
  } catch (err) {
    throw new CliError(`--datadir ${dir}: cannot take ${path}: ${(err as Error).message}`);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, path);
        return () => {
          try {
            unlinkSync(path);
          } catch {
            // Gone already: nothing to release.
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) {
          throw new CliError(`--datadir ${dir}: cannot take ${path}: ${(err as Error).message}`);
        }
      }
      const text = readOrEmpty(path);
      const pid = Number.parseInt(text, 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(`--datadir ${dir} is in use by process ${pid} (${path})`);
      }
      // No pid yet: a taker that writes after creating (an older peerwire) may
      // be between the two. Stale only once it has stayed so for a while.
      if (!(pid > 0) && Date.now() - mtimeOr(path, 0) < EMPTY_LOCK_GRACE_MS) {
        throw new CliError(`--datadir ${dir} is being taken by another process (${path})`);
      }
      removeStale(dir, path, temp, text);
    }
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Nothing to clean.
    }
  }
}

/**
 * Removes a stale lock that read `text`. Two processes that found the same
 * stale lock must not both win (the second unlinking the lock the first has
 * just taken): the takeover is itself taken, with DIR/.lock.takeover, and the
 * lock is removed only while it still holds what was read. A takeover file
 * left by a killed process is cleared once it is old.
 */
function removeStale(dir: string, path: string, temp: string, text: string): void {
  const takeover = `${path}.takeover`;
  try {
    linkSync(temp, takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new CliError(`--datadir ${dir}: cannot take ${takeover}: ${(err as Error).message}`);
    }
    if (Date.now() - mtimeOr(takeover, Date.now()) < EMPTY_LOCK_GRACE_MS) {
      throw new CliError(`--datadir ${dir} is being taken by another process (${takeover})`);
    }
    try {
      unlinkSync(takeover); // left by a taker that was killed
    } catch {
      // Cleared by someone else meanwhile.
    }
    return; // the caller tries again
  }
  try {
    if (readOrEmpty(path) === text) unlinkSync(path); // still the stale lock
  } catch {
    // Removed by someone else meanwhile: the next attempt says who holds it.
  } finally {
    try {
      unlinkSync(takeover);
    } catch {
      // Nothing to release.
    }
  }
}

/** How long a lock without a pid is taken as being written rather than stale. */
const EMPTY_LOCK_GRACE_MS = 10_000;

function mtimeOr(path: string, fallback: number): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return fallback;
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
