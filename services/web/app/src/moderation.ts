// Moderation and quiet hours as shared state: the schools whose report queue I read (an admin's
// school, or one where I head a class: chat's ListReports rule, docs/chat.md "Moderation"), and my
// chat settings (the direct-message block list, urgent notifications), read once and after changes.
import { call, Chats, Memberships } from "./api";
import { myUserId, session } from "./session";
import { signal } from "./signal";

export interface Moderated {
  schoolId: string;
  name: string;
  isAdmin: boolean;
}

/** Schools whose queue I may read; null until known. */
export const moderatedSchools = signal<Moderated[] | null>(null);

export async function loadModeratedSchools(): Promise<void> {
  const current = session.get();
  if (current.kind !== "ready") return moderatedSchools.set(null);
  const found: Moderated[] = [];
  for (const school of current.schools) {
    const roles = school.roles ?? [];
    const entry = { schoolId: school.school.schoolId, name: school.school.name, isAdmin: roles.includes("SCHOOL_ROLE_ADMIN") };
    if (entry.isAdmin) found.push(entry);
    else if (roles.includes("SCHOOL_ROLE_TEACHER")) {
      try {
        const { memberships = [] } = await call<{ memberships?: { classRole?: string }[] }>(
          Memberships,
          "GetMemberships",
          { userId: myUserId(), schoolId: entry.schoolId },
          { idempotent: true },
        );
        if (memberships.some((m) => m.classRole === "CLASS_ROLE_CLASS_HEAD")) found.push(entry);
      } catch {
        // not known now: no moderation link; the next sign-in asks again
      }
    }
  }
  moderatedSchools.set(found);
}

export interface ChatSettings {
  blockedUserIds: string[];
  urgentNotifications: boolean;
}

export const chatSettings = signal<ChatSettings | null>(null);

export async function loadChatSettings(): Promise<ChatSettings> {
  const reply = await call<{ blockedUserIds?: string[]; urgentNotifications?: boolean }>(Chats, "GetMyChatSettings", {}, { idempotent: true });
  const settings = { blockedUserIds: reply.blockedUserIds ?? [], urgentNotifications: reply.urgentNotifications ?? true };
  chatSettings.set(settings);
  return settings;
}

export async function setBlocked(userId: string, blocked: boolean): Promise<void> {
  await call(Chats, blocked ? "BlockUser" : "UnblockUser", { userId });
  await loadChatSettings();
}
