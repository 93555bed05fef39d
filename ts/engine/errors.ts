// Errors the Engine raises to its caller.

/** A peer handle was used after its connection ended. */
export class PeerGoneError extends Error {
  override readonly name = 'PeerGoneError';
  constructor(
    readonly peer: number,
    readonly reason: string,
  ) {
    super(`peer ${peer} is disconnected (${reason})`);
  }
}

/** A tracked request got no answer in time. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly peer: number,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`peer ${peer} did not answer ${command} within ${timeoutMs} ms`);
  }
}

/** A tracked request was abandoned because its peer disconnected or the engine closed. */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
  constructor(
    readonly peer: number,
    readonly command: string,
    readonly reason: string,
  ) {
    super(`${command} to peer ${peer} abandoned: ${reason}`);
  }
}

/** An operation needs a running engine. */
export class EngineClosedError extends Error {
  override readonly name = 'EngineClosedError';
  constructor() {
    super('the engine is closed');
  }
}
