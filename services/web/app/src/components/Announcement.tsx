// An announcement that asks every family to confirm (chat's AnnouncementService, docs/chat.md
// "Announcements"): the card in the chat, the form staff post it with. Families confirm once; the
// author and the chat's moderators see "N из M", who has not confirmed, and remind them.
import { useEffect, useRef, useState } from "preact/hooks";
import { call } from "../api";
import { formatTime } from "./common";
import { t } from "../i18n";
import { type MessageSnapshot } from "../live";
import { nameOf } from "../names";
import { myUserId } from "../session";
import { useSignal, type Signal } from "../signal";
import { useSubmit } from "../submit";
import { Announcements, fromLocalInput, VoiceError } from "./voiceCommon";

export interface AnnouncementFamily {
  childUserId: string;
  guardianUserIds?: string[];
  confirmed?: boolean;
  confirmedByUserId?: string;
  confirmedAt?: string;
  remindedAt?: string;
}

export interface Announcement {
  announcementId: string;
  chatId: string;
  seq: string;
  authorUserId: string;
  text?: string;
  postedAt?: string;
  deadline?: string;
  studentsConfirm?: boolean;
  familyCount?: number;
  confirmedCount?: number;
  closed?: boolean;
  myFamilies?: AnnouncementFamily[];
}

interface Status {
  announcement: Announcement;
  unconfirmed?: AnnouncementFamily[];
  confirmed?: AnnouncementFamily[];
}

interface CardProps {
  announcement: Announcement;
  /** The chat's moderator (class head, admin): may watch as the author does. */
  moderator: boolean;
  /** Bumped when the live stream says a family confirmed this announcement. */
  progress: Signal<number>;
  onChange(announcement: Announcement): void;
}

export function AnnouncementCard({ announcement: a, moderator, progress, onChange }: CardProps) {
  const me = myUserId();
  const watcher = a.authorUserId === me || moderator;
  const live = useSignal(progress);
  const [status, setStatus] = useState<Status | null>(null);
  const { busy, error, setError, run } = useSubmit();
  const [notice, setNotice] = useState<string | null>(null);
  const mine = a.myFamilies ?? [];
  const waiting = mine.filter((f) => !f.confirmed);

  // The author and moderators read who has (not) confirmed, again after each live confirmation.
  useEffect(() => {
    if (!watcher) return;
    let cancelled = false;
    call<Status>(Announcements, "GetAnnouncementStatus", { chatId: a.chatId, seq: a.seq }, { idempotent: true }).then(
      (reply) => {
        if (cancelled) return;
        setStatus(reply);
        onChange({ ...reply.announcement, myFamilies: a.myFamilies });
      },
      (e: unknown) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [a.chatId, a.seq, watcher, live]);

  function confirm() {
    return run(
      () =>
        call<{ announcement: Announcement; families?: { alreadyConfirmed?: boolean; confirmedByUserId?: string }[] }>(
          Announcements,
          "ConfirmAnnouncement",
          { chatId: a.chatId, seq: a.seq },
          { idempotent: true },
        ),
      (reply) => {
        onChange(reply.announcement);
        const other = (reply.families ?? []).find((f) => f.alreadyConfirmed && f.confirmedByUserId && f.confirmedByUserId !== me);
        setNotice(other ? t("annAlreadyConfirmedBy", { name: nameOf(other.confirmedByUserId!) }) : null);
      },
    );
  }

  function remind() {
    setNotice(null);
    return run(async () => {
      const reply = await call<{ remindedChildUserIds?: string[]; skippedChildUserIds?: string[] }>(Announcements, "RemindAnnouncement", {
        chatId: a.chatId,
        seq: a.seq,
      });
      const reminded = reply.remindedChildUserIds?.length ?? 0;
      const skipped = reply.skippedChildUserIds?.length ?? 0;
      setNotice(reminded || skipped ? t("annReminded", { count: reminded, skipped }) : t("annNobodyToRemind"));
      setStatus(await call<Status>(Announcements, "GetAnnouncementStatus", { chatId: a.chatId, seq: a.seq }, { idempotent: true }));
    });
  }

  const headingId = `announcement-${a.seq}`;
  return (
    <section class="voice-card announcement" aria-labelledby={headingId} data-announcement-seq={a.seq}>
      <h2 id={headingId} class="voice-kind">
        {t("annTitle")}
      </h2>
      <p class="text">{a.text}</p>
      {a.deadline && (
        <p class="muted">
          {a.closed ? t("annDeadlinePassed", { time: formatTime(a.deadline) }) : t("annDeadline", { time: formatTime(a.deadline) })}
        </p>
      )}
      <p class="ann-count" role="status">
        {t("annCount", { confirmed: a.confirmedCount ?? 0, total: a.familyCount ?? 0 })}
      </p>
      {mine.length > 0 &&
        (waiting.length === 0 ? (
          <p class="ann-done">{t("annYouConfirmed")}</p>
        ) : (
          !a.closed && (
            <button type="button" onClick={confirm} disabled={busy}>
              {t("annConfirm")}
            </button>
          )
        ))}
      {notice && (
        <p class="muted" role="status">
          {notice}
        </p>
      )}
      <VoiceError error={error} />
      {watcher && status && (
        <div class="ann-watch">
          <h3>{t("annUnconfirmedTitle", { count: status.unconfirmed?.length ?? 0 })}</h3>
          {(status.unconfirmed ?? []).length === 0 ? (
            <p class="muted">{t("annEveryoneConfirmed")}</p>
          ) : (
            <ul class="plain ann-unconfirmed">
              {(status.unconfirmed ?? []).map((f) => (
                <li key={f.childUserId} data-child-id={f.childUserId}>
                  {familyName(f)}
                  {f.remindedAt && <span class="muted"> · {t("annRemindedAt", { time: formatTime(f.remindedAt) })}</span>}
                </li>
              ))}
            </ul>
          )}
          {!a.closed && (status.unconfirmed ?? []).length > 0 && (
            <button type="button" class="secondary" onClick={remind} disabled={busy}>
              {t("annRemind")}
            </button>
          )}
        </div>
      )}
    </section>
  );
}

/** A family as people know it: the child, and who speaks for them. */
function familyName(f: AnnouncementFamily): string {
  const guardians = (f.guardianUserIds ?? []).filter((g) => g !== f.childUserId).map(nameOf);
  return guardians.length ? t("annFamily", { child: nameOf(f.childUserId), guardians: guardians.join(", ") }) : nameOf(f.childUserId);
}

interface FormProps {
  chatId: string;
  /** A class chat: students always confirm for their family (guardians are not its members). */
  classChat: boolean;
  onPosted(announcement: Announcement, message: MessageSnapshot | undefined): void;
  onCancel(): void;
}

export function AnnouncementForm({ chatId, classChat, onPosted, onCancel }: FormProps) {
  const [text, setText] = useState("");
  const [deadline, setDeadline] = useState("");
  const [studentsConfirm, setStudentsConfirm] = useState(false);
  const { busy, error, run } = useSubmit();
  const first = useRef<HTMLTextAreaElement>(null);

  useEffect(() => first.current?.focus(), []);

  function submit(event: Event) {
    event.preventDefault();
    return run(
      (requestId) =>
        call<{ announcement: Announcement; message?: MessageSnapshot }>(
          Announcements,
          "PostAnnouncement",
          {
            chatId,
            clientMessageId: requestId,
            text,
            studentsConfirm: classChat || studentsConfirm,
            ...(deadline ? { deadline: fromLocalInput(deadline) } : {}),
          },
          { idempotent: true },
        ),
      (reply) => onPosted(reply.announcement, reply.message),
    );
  }

  return (
    <form class="card voice-form" onSubmit={submit} aria-labelledby="ann-form-title">
      <h2 id="ann-form-title">{t("annNew")}</h2>
      <label for="ann-text">{t("annText")}</label>
      <textarea id="ann-text" ref={first} rows={3} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <label for="ann-deadline">{t("annDeadlineLabel")}</label>
      <input id="ann-deadline" type="datetime-local" value={deadline} onInput={(e) => setDeadline(e.currentTarget.value)} />
      {!classChat && (
        <label class="check">
          <input type="checkbox" checked={studentsConfirm} onChange={(e) => setStudentsConfirm(e.currentTarget.checked)} />
          {t("annStudentsConfirm")}
        </label>
      )}
      <VoiceError error={error} />
      <div class="row">
        <button type="submit" disabled={busy || !text.trim()}>
          {t("annPost")}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}
