// History-API routing: the gateway answers every app path with index.html.
import { signal } from "./signal";

export const path = signal<string>(location.pathname);

export function navigate(to: string, replace = false): void {
  if (to === location.pathname) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.set(to);
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => path.set(location.pathname));

/** `/chat/abc` against `/chat/:id` → { id: "abc" }, or null. */
export function match(pattern: string, current: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = current.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** An invite token opened before sign-in, resumed after sign-in and profile. */
const PENDING_JOIN = "parta.pendingJoin";
export function rememberJoin(token: string): void {
  sessionStorage.setItem(PENDING_JOIN, token);
}
export function takeJoin(): string | null {
  const token = sessionStorage.getItem(PENDING_JOIN);
  sessionStorage.removeItem(PENDING_JOIN);
  return token;
}
