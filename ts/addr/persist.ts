// The address manager on disk: serialize.ts's bytes inside a checked file written
// atomically (ts/store/atomic-file.ts). Loading never throws for a bad file: it
// starts afresh and says why, moving the bad file aside so it can be looked at.
import { rename } from 'node:fs/promises';
import type { Clock } from '../engine/clock.js';
import {
  readFileChecked,
  removeStaleTemps,
  StoreError,
  writeFileAtomic,
} from '../store/atomic-file.js';
import { AddressManager } from './addrman.js';
import { deserializeAddressManager, serializeAddressManager } from './serialize.js';

/** The store kind in the file header: an address file is never read as anything else. */
export const ADDRMAN_FILE_KIND = 'addr';

export async function saveAddressManager(path: string, manager: AddressManager): Promise<void> {
  await writeFileAtomic(path, ADDRMAN_FILE_KIND, serializeAddressManager(manager));
}

export interface LoadedAddressManager {
  manager: AddressManager;
  /** Entries in the file that no longer fit (dropped, as Core drops them). */
  lost: number;
  /**
   * Why the file could not be used, when it could not (absent when there was
   * no file: a first start is no problem). The manager is then empty.
   */
  problem?: StoreError;
  /** Where a bad file was moved to, when it was. */
  movedTo?: string;
}

/**
 * Loads the manager saved at `path`, or starts an empty one when there is no file
 * or it is unusable; an unusable file is renamed to `<path>.bad` (replacing an
 * older one) and reported in `problem` for the caller to log.
 */
export async function loadAddressManager(
  path: string,
  options: { clock: Pick<Clock, 'now' | 'random'>; allowLocal?: boolean },
): Promise<LoadedAddressManager> {
  await removeStaleTemps(path);
  let problem: StoreError;
  try {
    const payload = await readFileChecked(path, ADDRMAN_FILE_KIND);
    return deserializeAddressManager(payload, options, path);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    if (err.code === 'missing') return { manager: new AddressManager(options), lost: 0 };
    problem = err;
  }
  const fresh = { manager: new AddressManager(options), lost: 0, problem };
  if (problem.code === 'io') return fresh;
  const movedTo = `${path}.bad`;
  try {
    await rename(path, movedTo);
    return { ...fresh, movedTo };
  } catch {
    return fresh;
  }
}
