// Display names of people, fetched in batches (ProfileService.BatchGetDisplayNames) and cached.
// A name identity does not show me yet (a teacher who joined a minute ago, whose seat has not reached
// the profile service's view) is asked again a few times, a few seconds apart, then left unknown
// until the next reload.
import { call, Profiles } from "./api";
import { t } from "./i18n";
import { signal } from "./signal";

const cache = new Map<string, string>();
const pending = new Set<string>();
const misses = new Map<string, number>();
let scheduled = false;

/** Retries of a name not shown: after 3 s, 6 s, 12 s, 24 s. */
export const RETRY_MS = 3_000;
export const MAX_RETRIES = 4;

/** Bumped whenever names arrive, so components that show names re-render. */
export const namesVersion = signal(0);

export function nameOf(userId: string): string {
  if (!userId) return "";
  const known = knownName(userId);
  if (known !== undefined) return known;
  // "" — identity does not show this name to me (e.g. someone asking to join, not in my school yet).
  return cache.get(userId) === "" ? t("unknownPerson") : "…";
}

/** The person's name if identity has shown it to me; undefined while unknown (asks for it). */
export function knownName(userId: string): string | undefined {
  const known = cache.get(userId);
  if (known === undefined) request(userId);
  return known && known !== "…" ? known : undefined;
}

function request(userId: string): void {
  pending.add(userId);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flush);
  }
}

function retryLater(userId: string): void {
  const n = (misses.get(userId) ?? 0) + 1;
  misses.set(userId, n);
  if (n > MAX_RETRIES) return;
  window.setTimeout(() => request(userId), RETRY_MS * 2 ** (n - 1));
}

async function flush(): Promise<void> {
  scheduled = false;
  const ids = [...pending].slice(0, 200);
  ids.forEach((id) => pending.delete(id));
  if (ids.length === 0) return;
  ids.forEach((id) => {
    if (!cache.get(id)) cache.set(id, cache.get(id) === "" ? "" : "…");
  });
  try {
    const { names = [] } = await call<{ names?: { userId: string; displayName?: string }[] }>(Profiles, "BatchGetDisplayNames", {
      userIds: ids,
    });
    const shown = new Map(names.map((name) => [name.userId, name.displayName || ""]));
    for (const id of ids) {
      const name = shown.get(id) ?? "";
      cache.set(id, name);
      if (name) misses.delete(id);
      else retryLater(id);
    }
  } catch {
    ids.forEach((id) => {
      if (cache.get(id) === "…") cache.delete(id); // asked again on the next render
      else retryLater(id);
    });
  }
  namesVersion.set(namesVersion.get() + 1);
  if (pending.size > 0) void flush();
}
