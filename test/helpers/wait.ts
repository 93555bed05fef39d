// Waiting on state that raises no event (a plain net.Server's accept, native counters).

/** Re-checks `check` every 10 ms until it holds; rejects after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
