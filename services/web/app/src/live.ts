// The app's one live connection: ChatService.Subscribe over the gateway's WebSocket. It resumes
// after the last update of every chat it has seen (cursors) when the socket drops, and fans events
// out to the screens.
import { ApiError, Chats, openStream } from "./api";
import { signal } from "./signal";

export interface MessageSnapshot {
  chatId: string;
  messageId: string;
  seq: string;
  updateSeq?: string;
  senderUserId?: string;
  text?: string;
  replyToSeq?: string;
  fileIds?: string[];
  /** Attachments removed after sending (deleted by the uploader, or taken off by a moderator). */
  removedFileIds?: string[];
  sentAt?: string;
  editedAt?: string;
  deleted?: boolean;
  system?: boolean;
  urgent?: boolean;
  /** A parent's urgent message: why it could not wait. */
  urgentReason?: string;
  heldUntil?: string;
  heldForUserIds?: string[];
  reactions?: { emoji: string; userIds?: string[] }[];
  clientMessageId?: string;
  /** What a system message says, rendered in the reader's language (systemText in ChatView). */
  systemNote?: SystemNote;
}

export interface SystemNote {
  kind?: "SYSTEM_KIND_MEMBER_JOINED" | "SYSTEM_KIND_LESSON_STARTED" | "SYSTEM_KIND_LESSON_ENDED" | string;
  subjectUserId?: string;
  subjectName?: string;
  title?: string;
  count?: number;
  /** SYSTEM_KIND_MATERIAL_PUBLISHED: the material (the note links to /materials). */
  materialId?: string;
}

export interface ChatEvent {
  chatId: string;
  updateSeq?: string;
  message?: MessageSnapshot;
  chat?: Record<string, unknown>;
  chatRemoved?: boolean;
  read?: { chatId: string; userId: string; lastReadSeq?: string };
  memberAdded?: { chatId: string; userId: string };
  memberRemoved?: { chatId: string; userId: string };
  live?: Record<string, never>;
  liveStatus?: { state?: "LIVE_STATE_LIVE" | "LIVE_STATE_DEGRADED" | string };
  /** To an announcement's author: one more family confirmed (components/Voice.tsx). */
  announcementProgress?: { seq: string; confirmedCount?: number; familyCount?: number; childUserId?: string };
  /** To a poll's author: someone voted (no counts: the card reads GetPoll). */
  pollProgress?: { seq: string };
}

type Listener = (event: ChatEvent) => void;
const listeners = new Set<Listener>();
const cursors = new Map<string, number>();
let stop: (() => void) | null = null;
let retryTimer: number | undefined;
let backoff = 500;

/** True while the socket is up and past the history replay. */
export const connected = signal(false);

/** True while the service says live delivery is degraded (it cannot reach its event log): new
 * messages arrive later, when it says LIVE again (the stream then catches up by itself). */
export const degraded = signal(false);

export function onChatEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function connect(): void {
  const request = { cursors: [...cursors].map(([chatId, updateSeq]) => ({ chatId, updateSeq: String(updateSeq) })) };
  stop = openStream<ChatEvent>(Chats, "Subscribe", request, {
    onMessage(event) {
      const seq = Number(event.updateSeq ?? 0);
      if (seq > 0 && seq > (cursors.get(event.chatId) ?? 0)) cursors.set(event.chatId, seq);
      if (event.live) {
        connected.set(true);
        backoff = 500;
      }
      if (event.liveStatus) degraded.set(event.liveStatus.state === "LIVE_STATE_DEGRADED");
      listeners.forEach((listener) => listener(event));
    },
    onEnd(error: ApiError | null) {
      connected.set(false);
      degraded.set(false); // a new stream says again if it opens degraded
      stop = null;
      if (error && (error.code === "16" || error.code === "UNAUTHENTICATED")) return; // signed out
      retryTimer = window.setTimeout(() => {
        retryTimer = undefined;
        connect();
      }, backoff);
      backoff = Math.min(backoff * 2, 10_000);
    },
  });
}

export function startLive(): void {
  if (stop !== null) return;
  window.clearTimeout(retryTimer);
  retryTimer = undefined;
  connect();
}

export function stopLive(): void {
  window.clearTimeout(retryTimer);
  retryTimer = undefined;
  stop?.();
  stop = null;
  cursors.clear();
  connected.set(false);
  degraded.set(false);
}
