// The chat screen's moderation and quiet-hours pieces (docs/web.md "Moderation and quiet hours"):
// reporting a message from its actions, blocking the other person of a direct chat, and the
// composer's "urgent" option for parents writing directly outside working hours.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, Chats } from "../api";
import type { ChatView } from "../chats";
import { t } from "../i18n";
import { chatSettings, loadChatSettings, setBlocked } from "../moderation";
import { nameOf } from "../names";
import { session } from "../session";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";
import { ErrorNote } from "./common";

const MAX_REPORT_CHARS = 1000;
export const MAX_URGENT_REASON_CHARS = 200;

/** "Пожаловаться" on someone else's message: a reason (optional for chat, asked for here), then ReportMessage. */
export function ReportButton({ chatId, seq }: { chatId: string; seq: number }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const { busy, error, setError, run } = useSubmit();
  const [sent, setSent] = useState(false);
  const field = `report-reason-${seq}`;
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);

  function submit(event: Event) {
    event.preventDefault();
    return run(
      () => call(Chats, "ReportMessage", { chatId, seq: String(seq), reason: reason.trim() }),
      () => {
        setSent(true);
        setOpen(false);
        setReason("");
      },
    );
  }

  if (sent)
    return (
      <span class="muted report-sent" role="status">
        {t("reportSent")}
      </span>
    );
  if (!open)
    return (
      <button type="button" class="link" onClick={() => setOpen(true)}>
        {t("report")}
      </button>
    );
  return (
    <form class="report-form" onSubmit={submit}>
      <label for={field}>{t("reportReason")}</label>
      <textarea id={field} rows={2} required maxLength={MAX_REPORT_CHARS} value={reason} onInput={(e) => setReason(e.currentTarget.value)} ref={input} />
      <ErrorNote error={error} />
      <div class="row">
        <button type="submit" disabled={busy || !reason.trim()}>
          {t("reportSend")}
        </button>
        <button type="button" class="secondary" onClick={() => (setOpen(false), setError(null))}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}

/** A direct chat's block switch: the other person's messages to me are refused while blocked. */
export function BlockToggle({ peerUserId }: { peerUserId: string }) {
  const settings = useSignal(chatSettings);
  const { busy, error, setError, run } = useSubmit();

  useEffect(() => {
    if (!chatSettings.get()) loadChatSettings().catch(setError);
  }, []);

  if (!settings) return <ErrorNote error={error} />;
  const blocked = settings.blockedUserIds.includes(peerUserId);

  function toggle() {
    return run(() => setBlocked(peerUserId, !blocked));
  }

  return (
    <div class="block-bar">
      {blocked && (
        <p class="muted" role="status">
          {t("blockedNote", { name: nameOf(peerUserId) })}
        </p>
      )}
      <button type="button" class="secondary" disabled={busy} onClick={toggle}>
        {blocked ? t("unblockUser") : t("blockUser")}
      </button>
      <ErrorNote error={error} />
    </div>
  );
}

/**
 * Whether the composer offers "urgent": in a direct chat of a school where I am a parent (and not
 * staff). The page cannot know the school's working hours on the server's clock nor the other
 * person's role, so it offers the option in every such chat; in working hours it costs nothing, and
 * where it does not apply (another parent) chat's refusal is shown.
 */
export function mayMarkUrgent(view: ChatView | undefined): boolean {
  const current = session.get();
  if (!view || view.chat.kind !== "CHAT_KIND_DIRECT" || current.kind !== "ready") return false;
  const roles = current.schools.find((s) => s.school.schoolId === view.chat.schoolId)?.roles ?? [];
  return roles.includes("SCHOOL_ROLE_PARENT") && !roles.includes("SCHOOL_ROLE_TEACHER") && !roles.includes("SCHOOL_ROLE_ADMIN");
}

export interface Urgency {
  on: boolean;
  reason: string;
}

/** The composer's urgent checkbox and, when checked, the reason it cannot wait. */
export function UrgentFields({ value, onChange }: { value: Urgency; onChange(next: Urgency): void }) {
  return (
    <div class="urgent-fields">
      <label class="check">
        <input type="checkbox" checked={value.on} onChange={(e) => onChange({ ...value, on: e.currentTarget.checked })} />
        {t("urgentOption")}
      </label>
      {value.on && (
        <>
          <label for="urgent-reason">{t("urgentReason")}</label>
          <input
            id="urgent-reason"
            type="text"
            required
            maxLength={MAX_URGENT_REASON_CHARS}
            value={value.reason}
            onInput={(e) => onChange({ ...value, reason: e.currentTarget.value })}
          />
          <p class="muted hint">{t("urgentHint")}</p>
        </>
      )}
    </div>
  );
}
