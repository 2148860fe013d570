// A tiny observable value and a hook to re-render a component when it changes (enough state
// management for this app; no extra dependency).
import { useEffect, useState } from "preact/hooks";

export interface Signal<T> {
  get(): T;
  set(value: T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function signal<T>(initial: T): Signal<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next: T) {
      value = next;
      listeners.forEach((listener) => listener(next));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useSignal<T>(source: Signal<T>): T {
  const [, setTick] = useState(0);
  const rendered = source.get();
  useEffect(() => {
    const unsubscribe = source.subscribe(() => setTick((tick) => tick + 1));
    // Effects run after paint: a change between the render and the subscription (the session
    // answer arriving first on a fast reply) would otherwise leave the component on the old value.
    if (source.get() !== rendered) setTick((tick) => tick + 1);
    return unsubscribe;
  }, [source]);
  return rendered;
}
