// A small typed event emitter. A throwing handler does not disturb the engine:
// the error is rethrown on a microtask, like an uncaught EventEmitter error.
// Handler lists are copied when they change, not when they are called: emit is
// on the per-message path, subscribing is not.

// biome-ignore lint/suspicious/noExplicitAny: handler signatures vary per event.
type Handler = (...args: any[]) => void;

/** Where a handler's error goes: by default, rethrown on a microtask. */
export type HandlerErrorSink = (error: unknown) => void;

const rethrowLater: HandlerErrorSink = (error) =>
  queueMicrotask(() => {
    throw error;
  });

export class Emitter<Events extends { [K in keyof Events]: Handler }> {
  private handlers = new Map<keyof Events, readonly Handler[]>();

  constructor(private readonly onHandlerError: HandlerErrorSink = rethrowLater) {}

  /** Subscribes (once per handler); returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    const list = this.handlers.get(event) ?? [];
    if (!list.includes(handler)) this.handlers.set(event, [...list, handler]);
    return () => this.off(event, handler);
  }

  once<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    const wrapped = ((...args: Parameters<Events[K]>) => {
      off();
      handler(...args);
    }) as Events[K];
    const off = this.on(event, wrapped);
    return off;
  }

  off<K extends keyof Events>(event: K, handler: Events[K]): void {
    const list = this.handlers.get(event);
    if (!list?.includes(handler)) return;
    const rest = list.filter((h) => h !== handler);
    if (rest.length === 0) this.handlers.delete(event);
    else this.handlers.set(event, rest);
  }

  hasListeners(event: keyof Events): boolean {
    return (this.handlers.get(event)?.length ?? 0) > 0;
  }

  /** Hands `error` to the sink handler errors go to. */
  report(error: unknown): void {
    this.onHandlerError(error);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    // The list in force when the emit starts: handlers added or removed by a
    // handler take effect from the next emit.
    const list = this.handlers.get(event);
    if (!list) return;
    for (const handler of list) {
      try {
        handler(...args);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }
}
