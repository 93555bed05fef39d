// The benchmark's second process: `node worker.js <impl> <workload> <sizes-json>`.
import { createNet, type Impl } from './nets.js';
import { type Channel, type Sizes, WORKLOADS } from './workloads.js';

const [impl, name, sizesJson] = process.argv.slice(2) as [Impl, string, string];
const workload = WORKLOADS[name];
if (!workload || !process.send) {
  console.error('usage: worker.js <peerwire|baseline> <workload> <sizes-json> (as a forked child)');
  process.exit(2);
}

const inbox: Array<Record<string, unknown>> = [];
const waiting: Array<(m: Record<string, unknown>) => void> = [];
process.on('message', (m: Record<string, unknown>) => {
  const w = waiting.shift();
  if (w) w(m);
  else inbox.push(m);
});
const channel: Channel = {
  send: (m) => process.send?.(m),
  next: () => {
    const m = inbox.shift();
    return m ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
  },
};

const net = createNet(impl);
await workload.child(net, channel, JSON.parse(sizesJson) as Sizes);
// Let the last message reach the parent before tearing the sockets down.
await new Promise((r) => setTimeout(r, 50));
await net.close();
process.disconnect?.();
