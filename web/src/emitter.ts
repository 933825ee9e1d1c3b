// A small typed event emitter: the same code in browsers and Node, no
// dependency. Handlers run synchronously in the order they were added; one
// that throws does not stop the others (the error is reported, not lost).

export type Handler<T> = (d: T) => void;

export class Emitter<E> {
  #handlers = new Map<keyof E, Set<Handler<any>>>();

  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof E>(name: K, fn: Handler<E[K]>): () => void {
    let set = this.#handlers.get(name);
    if (!set) this.#handlers.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  off<K extends keyof E>(name: K, fn: Handler<E[K]>): void {
    this.#handlers.get(name)?.delete(fn);
  }

  /** Resolves with the next `name` event that `match` accepts. */
  once<K extends keyof E>(name: K, match: (d: E[K]) => boolean = () => true): Promise<E[K]> {
    return new Promise((resolve) => {
      const off = this.on(name, (d) => {
        if (!match(d)) return;
        off();
        resolve(d);
      });
    });
  }

  protected emit<K extends keyof E>(name: K, d: E[K]): void {
    const set = this.#handlers.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(d);
      } catch (err) {
        const report = (globalThis as any).reportError;
        if (typeof report === "function") report(err);
        else console.error(err);
      }
    }
  }
}
