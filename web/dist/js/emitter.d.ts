export type Handler<T> = (d: T) => void;
export declare class Emitter<E> {
    #private;
    /** Adds a handler; returns a function that removes it. */
    on<K extends keyof E>(name: K, fn: Handler<E[K]>): () => void;
    off<K extends keyof E>(name: K, fn: Handler<E[K]>): void;
    /** Resolves with the next `name` event that `match` accepts. */
    once<K extends keyof E>(name: K, match?: (d: E[K]) => boolean): Promise<E[K]>;
    protected emit<K extends keyof E>(name: K, d: E[K]): void;
}
