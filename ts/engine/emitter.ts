// A small typed event emitter. A throwing handler does not disturb the engine:
// the error is rethrown on a microtask, like an uncaught EventEmitter error.

// biome-ignore lint/suspicious/noExplicitAny: handler signatures vary per event.
type Handler = (...args: any[]) => void;

export class Emitter<Events extends { [K in keyof Events]: Handler }> {
  private handlers = new Map<keyof Events, Set<Handler>>();

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler);
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
    this.handlers.get(event)?.delete(handler);
  }

  hasListeners(event: keyof Events): boolean {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
