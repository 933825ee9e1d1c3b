// A small typed event emitter: the same code in browsers and Node, no
// dependency. Handlers run synchronously in the order they were added; one
// that throws does not stop the others (the error is reported, not lost).
export class Emitter {
    #handlers = new Map();
    /** Adds a handler; returns a function that removes it. */
    on(name, fn) {
        let set = this.#handlers.get(name);
        if (!set)
            this.#handlers.set(name, (set = new Set()));
        set.add(fn);
        return () => this.off(name, fn);
    }
    off(name, fn) {
        this.#handlers.get(name)?.delete(fn);
    }
    /** Resolves with the next `name` event that `match` accepts. */
    once(name, match = () => true) {
        return new Promise((resolve) => {
            const off = this.on(name, (d) => {
                if (!match(d))
                    return;
                off();
                resolve(d);
            });
        });
    }
    emit(name, d) {
        const set = this.#handlers.get(name);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(d);
            }
            catch (err) {
                const report = globalThis.reportError;
                if (typeof report === "function")
                    report(err);
                else
                    console.error(err);
            }
        }
    }
}
