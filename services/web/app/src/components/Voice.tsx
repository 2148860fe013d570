// Announcements and polls in a chat ("the school's voice"): which messages of the chat are
// announcements or polls (ListAnnouncements, ListPolls: the messages carry no marker), their live
// progress from the chat stream, the staff's "new announcement / new poll" bar, and the card a
// message is shown as. ChatView only calls useVoice, renders <VoiceBar> and asks voiceCard().
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { call } from "../api";
import { type ChatView } from "../chats";
import { t } from "../i18n";
import { onChatEvent, type MessageSnapshot } from "../live";
import { session } from "../session";
import { signal, useSignal, type Signal } from "../signal";
import { AnnouncementCard, AnnouncementForm, type Announcement } from "./Announcement";
import { PollCard, PollForm, type Poll } from "./Poll";
import { Announcements, Polls, VoiceError } from "./voiceCommon";
import "../voice.css";

/** Chats where staff announce and ask (chat's ANNOUNCEMENT_CHATS / POLL_CHATS). */
const VOICE_KINDS = new Set(["CHAT_KIND_SCHOOL_CHANNEL", "CHAT_KIND_CLASS", "CHAT_KIND_CLASS_PARENTS"]);
/** A burst of new messages: one re-read of the lists. */
const RELIST_DELAY_MS = 400;

export interface Voice {
  announcements: Map<number, Announcement>;
  polls: Map<number, Poll>;
  error: unknown;
  setAnnouncement(announcement: Announcement): void;
  setPoll(poll: Poll): void;
  /** Ticks for one card, bumped by the live stream (a confirmation, a vote). */
  progress(kind: "announcement" | "poll", seq: number): Signal<number>;
}

export function useVoice(chatId: string, view: ChatView | undefined): Voice {
  const enabled = Boolean(view && VOICE_KINDS.has(view.chat.kind ?? ""));
  const [announcements, setAnnouncements] = useState<Map<number, Announcement>>(new Map());
  const [polls, setPolls] = useState<Map<number, Poll>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const ticks = useRef(new Map<string, Signal<number>>());
  const known = useRef(new Set<number>());

  function progress(kind: "announcement" | "poll", seq: number): Signal<number> {
    const key = `${kind}:${seq}`;
    let tick = ticks.current.get(key);
    if (!tick) ticks.current.set(key, (tick = signal(0)));
    return tick;
  }

  useEffect(() => {
    setAnnouncements(new Map());
    setPolls(new Map());
    setError(null);
    ticks.current = new Map();
    known.current = new Set();
    if (!enabled) return;
    let cancelled = false;
    let timer: number | undefined;

    async function load() {
      try {
        const [a, p] = await Promise.all([
          call<{ announcements?: Announcement[] }>(Announcements, "ListAnnouncements", { chatId }, { idempotent: true }),
          call<{ polls?: Poll[] }>(Polls, "ListPolls", { chatId }, { idempotent: true }),
        ]);
        if (cancelled) return;
        setAnnouncements(new Map((a.announcements ?? []).map((x) => [Number(x.seq), x])));
        setPolls(new Map((p.polls ?? []).map((x) => [Number(x.seq), x])));
        setError(null);
      } catch (e) {
        if (!cancelled) setError(e);
      }
    }

    void load();
    const unsubscribe = onChatEvent((event) => {
      if (event.chatId !== chatId) return;
      if (event.announcementProgress) {
        const p = event.announcementProgress;
        const seq = Number(p.seq);
        setAnnouncements((current) => {
          const have = current.get(seq);
          if (!have) return current;
          const confirmedCount = Math.max(have.confirmedCount ?? 0, p.confirmedCount ?? 0);
          return new Map(current).set(seq, { ...have, confirmedCount, familyCount: p.familyCount ?? have.familyCount });
        });
        const tick = progress("announcement", seq);
        tick.set(tick.get() + 1);
      }
      if (event.pollProgress) {
        const tick = progress("poll", Number(event.pollProgress.seq));
        tick.set(tick.get() + 1);
      }
      // A new message may be someone's announcement or poll: read the lists again (once a burst).
      const m = event.message;
      if (m && !m.system && !m.deleted && !m.editedAt && !(m.reactions ?? []).length && !known.current.has(Number(m.seq))) {
        known.current.add(Number(m.seq));
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void load(), RELIST_DELAY_MS);
      }
    });
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
      unsubscribe();
    };
  }, [chatId, enabled]);

  return {
    announcements,
    polls,
    error,
    progress,
    setAnnouncement: (a) => {
      known.current.add(Number(a.seq));
      setAnnouncements((current) => new Map(current).set(Number(a.seq), { ...current.get(Number(a.seq)), ...a }));
    },
    setPoll: (p) => {
      known.current.add(Number(p.seq));
      setPolls((current) => new Map(current).set(Number(p.seq), p));
    },
  };
}

/** The card a message is shown as, when it is an announcement or a poll; else null. */
export function voiceCard(voice: Voice, message: MessageSnapshot, view: ChatView | undefined): JSX.Element | null {
  const seq = Number(message.seq);
  const moderator = Boolean(view?.isModerator);
  const announcement = voice.announcements.get(seq);
  if (announcement)
    return (
      <AnnouncementCard
        announcement={{ ...announcement, text: message.text ?? announcement.text }}
        moderator={moderator}
        progress={voice.progress("announcement", seq)}
        onChange={voice.setAnnouncement}
      />
    );
  const poll = voice.polls.get(seq);
  if (poll) return <PollCard poll={poll} moderator={moderator} progress={voice.progress("poll", seq)} onChange={voice.setPoll} />;
  return null;
}

/** Staff of the chat's school (admins, teachers): the server decides the rest (NOT_ANNOUNCER). */
function isStaff(schoolId: string | undefined): boolean {
  const state = session.get();
  if (state.kind !== "ready" || !schoolId) return false;
  const school = state.schools.find((s) => s.school.schoolId === schoolId);
  return (school?.roles ?? []).some((r) => r === "SCHOOL_ROLE_ADMIN" || r === "SCHOOL_ROLE_TEACHER");
}

interface BarProps {
  voice: Voice;
  view: ChatView | undefined;
  onMessage(message: MessageSnapshot): void;
}

export function VoiceBar({ voice, view, onMessage }: BarProps) {
  useSignal(session);
  const [open, setOpen] = useState<"announcement" | "poll" | null>(null);
  if (!view || !VOICE_KINDS.has(view.chat.kind ?? "")) return null;
  const staff = isStaff(view.chat.schoolId) && view.canPost !== false;
  return (
    <div class="voice-bar">
      <VoiceError error={voice.error} />
      {staff && open === null && (
        <div class="row">
          <button type="button" class="secondary" onClick={() => setOpen("announcement")}>
            {t("annNew")}
          </button>
          <button type="button" class="secondary" onClick={() => setOpen("poll")}>
            {t("pollNew")}
          </button>
        </div>
      )}
      {open === "announcement" && (
        <AnnouncementForm
          chatId={view.chat.chatId}
          classChat={view.chat.kind === "CHAT_KIND_CLASS"}
          onPosted={(announcement, message) => {
            voice.setAnnouncement(announcement);
            if (message) onMessage(message);
            setOpen(null);
          }}
          onCancel={() => setOpen(null)}
        />
      )}
      {open === "poll" && (
        <PollForm
          chatId={view.chat.chatId}
          familiesHere={view.chat.kind !== "CHAT_KIND_CLASS"}
          onCreated={(poll, message) => {
            voice.setPoll(poll);
            if (message) onMessage(message);
            setOpen(null);
          }}
          onCancel={() => setOpen(null)}
        />
      )}
    </div>
  );
}
