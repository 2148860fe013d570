// How a form or a card runs what its button asks for (a post, a vote, a publication): the busy flag
// that disables the button, the failure the screen shows in people's words, and the request id that
// makes a retry safe. Screens differ only in what they send and what they do with the answer.
import { useRef, useState } from "preact/hooks";
import { newId } from "./api";

export interface Submit {
  /** The action is running: its buttons are disabled. */
  busy: boolean;
  /** What the last run failed with (an ApiError, or a problem the form found itself); null if none. */
  error: unknown;
  setError(error: unknown): void;
  /**
   * Clears the error, runs `send` with the request id and then `done` with its answer, and keeps
   * what either throws as `error`; busy until both have run. The request id stays the same until a
   * send succeeds (a retry after a lost answer gets the first result from the service), then a new
   * one serves the next action.
   */
  run<T>(send: (requestId: string) => Promise<T>, done?: (answer: T) => void): Promise<void>;
}

export function useSubmit(): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const requestId = useRef(newId());

  async function run<T>(send: (requestId: string) => Promise<T>, done?: (answer: T) => void): Promise<void> {
    setError(null);
    setBusy(true);
    try {
      const answer = await send(requestId.current);
      requestId.current = newId();
      done?.(answer);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return { busy, error, setError, run };
}
