// The benchmark's worker process: `node worker.js <impl> <workload> <parent|child> <sizes-json>`,
// forked by runner.ts. It runs one side of one workload, sends the result (or
// the error) to the bench, and exits.
const inbox: Array<Record<string, unknown>> = [];
const waiting: Array<(m: Record<string, unknown>) => void> = [];
process.on('message', (m: Record<string, unknown>) => {
  const w = waiting.shift();
  if (w) w(m);
  else inbox.push(m);
});

function send(message: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

// The bench ends a stuck worker with SIGTERM: exit through process.exit so the
// 'exit' hooks workloads register (killing what they started) run.
process.once('SIGTERM', () => process.exit(143));
// Without the bench there is nobody to report to: never outlive it.
process.once('disconnect', () => process.exit(1));

const [impl, name, role, sizesJson] = process.argv.slice(2);
if (!process.send || (role !== 'parent' && role !== 'child') || !sizesJson) {
  console.error(
    'usage: worker.js <peerwire|baseline> <workload> <parent|child> <sizes-json> (forked)',
  );
  process.exit(2);
}
await send({ __ready: true });

let code = 0;
try {
  const { WORKLOADS } = await import('./workloads.js');
  const workload = WORKLOADS[name as string];
  if (!workload) throw new Error(`unknown workload ${name}`);
  const ctx = {
    impl: impl as 'peerwire' | 'baseline',
    sizes: JSON.parse(sizesJson),
    ch: {
      send: (m: Record<string, unknown>) => void send(m),
      next: () => {
        const m = inbox.shift();
        return m
          ? Promise.resolve(m)
          : new Promise<Record<string, unknown>>((r) => waiting.push(r));
      },
    },
  };
  if (role === 'parent') await send({ __result: await workload.parent(ctx) });
  else await workload.child(ctx);
} catch (err) {
  code = 1;
  await send({ __error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
// Exit explicitly: nothing a workload left behind may keep this process (and the bench) alive.
process.exit(code);
