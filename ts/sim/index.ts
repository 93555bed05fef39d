// The simulated network: the same Engine on simulated TCP with seeded faults,
// in virtual time. See DESIGN.md, "Simulation".
export { SimClock, TimerQueue, Xoshiro128 } from './clock.js';
export {
  type ConvergenceOptions,
  DEFAULT_REQUEST_SLACK_MS,
  expectConvergence,
  INVARIANTS,
  type InvariantName,
  Invariants,
  InvariantViolation,
} from './invariants.js';
export {
  type AddEngineOptions,
  type AddNodeOptions,
  NO_FAULTS,
  type SimFaults,
  SimNetwork,
  type SimNetworkOptions,
  SimNode,
  type SimNodeContext,
  type SimNodeOptions,
  SimOptionsError,
  type SimProfile,
  SimTimeoutError,
  type SimWorld,
  simNodeIp,
} from './network.js';
export {
  SimNodeDownError,
  SimTransport,
  type SimTransportOptions,
  simTransportOptions,
} from './transport.js';
