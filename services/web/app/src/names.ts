// Display names of people, fetched in batches (ProfileService.BatchGetDisplayNames) and cached.
import { call, Profiles } from "./api";
import { t } from "./i18n";
import { signal } from "./signal";

const cache = new Map<string, string>();
const pending = new Set<string>();
let scheduled = false;

/** Bumped whenever names arrive, so components that show names re-render. */
export const namesVersion = signal(0);

export function nameOf(userId: string): string {
  if (!userId) return "";
  const known = cache.get(userId);
  // "" — identity does not show this name to me (e.g. someone asking to join, not in my school yet).
  if (known !== undefined) return known || t("unknownPerson");
  pending.add(userId);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flush);
  }
  return "…";
}

async function flush(): Promise<void> {
  scheduled = false;
  const ids = [...pending].slice(0, 200);
  ids.forEach((id) => pending.delete(id));
  if (ids.length === 0) return;
  ids.forEach((id) => cache.set(id, "…"));
  try {
    const { names = [] } = await call<{ names?: { userId: string; displayName?: string }[] }>(Profiles, "BatchGetDisplayNames", {
      userIds: ids,
    });
    for (const id of ids) cache.set(id, "");
    for (const name of names) cache.set(name.userId, name.displayName || "");
  } catch {
    ids.forEach((id) => cache.delete(id));
  }
  namesVersion.set(namesVersion.get() + 1);
  if (pending.size > 0) void flush();
}
