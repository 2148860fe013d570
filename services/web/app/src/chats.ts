// The chat list as shared state: ListChats, refreshed when live events say something changed.
import { call, Chats } from "./api";
import { onChatEvent } from "./live";
import { nameOf } from "./names";
import { signal } from "./signal";
import { t, type Key } from "./i18n";

export interface ChatSnapshot {
  chatId: string;
  schoolId?: string;
  kind?: string;
  title?: string;
  classId?: string;
  postingPolicy?: string;
  readOnly?: boolean;
  memberCount?: number;
  subject?: string;
}

export interface ChatView {
  chat: ChatSnapshot;
  lastSeq?: string;
  lastReadSeq?: string;
  unreadCount?: number;
  canPost?: boolean;
  isModerator?: boolean;
  peerUserId?: string;
}

export const chatList = signal<ChatView[] | null>(null);
let refreshTimer: number | undefined;

export async function refreshChats(): Promise<void> {
  const { chats = [] } = await call<{ chats?: ChatView[] }>(Chats, "ListChats");
  chatList.set(chats);
}

/** Coalesces bursts of live events into one ListChats. */
export function scheduleRefresh(delay = 300): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = undefined;
    refreshChats().catch(() => undefined);
  }, delay);
}

onChatEvent((event) => {
  const known = chatList.get()?.some((view) => view.chat.chatId === event.chatId);
  if (event.message || event.chat || event.chatRemoved || event.memberAdded || event.memberRemoved || !known) scheduleRefresh();
  else if (event.read) scheduleRefresh(1000);
});

const KIND_KEYS: Record<string, Key> = {
  CHAT_KIND_SCHOOL_CHANNEL: "kindSchoolChannel",
  CHAT_KIND_STAFF_CHANNEL: "kindStaffChannel",
  CHAT_KIND_CLASS: "kindClass",
  CHAT_KIND_CLASS_PARENTS: "kindClassParents",
  CHAT_KIND_GROUP: "kindGroup",
  CHAT_KIND_DIRECT: "kindDirect",
};

export function kindName(kind: string | undefined): string {
  const key = KIND_KEYS[kind ?? ""];
  return key ? t(key) : "";
}

export function chatTitle(view: ChatView): string {
  if (view.chat.kind === "CHAT_KIND_DIRECT" && view.peerUserId) return nameOf(view.peerUserId);
  return view.chat.title || kindName(view.chat.kind);
}
