// What the announcement and poll screens share: their services, the datetime field's value, and
// their refusals in people's words (the reasons are chat's, docs/chat.md "Announcements", "Polls").
import { ApiError } from "../api";
import { t, type Key } from "../i18n";
import { describeError } from "./common";

export const Announcements = "parta.chat.v1.AnnouncementService";
export const Polls = "parta.chat.v1.PollService";

/** `<input type="datetime-local">` (the browser's local time) → RFC 3339 for the protobuf mapping. */
export function fromLocalInput(value: string): string {
  return new Date(value).toISOString();
}

const REASONS: Record<string, Key> = {
  NOT_ANNOUNCER: "voiceErrNotAnnouncer",
  NOT_ANNOUNCEMENT_CHAT: "voiceErrNotHere",
  ANNOUNCEMENT_CLOSED: "annErrClosed",
  NOT_IN_AUDIENCE: "annErrNotAsked",
  STUDENTS_DO_NOT_CONFIRM: "annErrStudents",
  NOT_ANNOUNCEMENT_WATCHER: "errorNoAccess",
  ALREADY_VOTED: "pollErrAlreadyVoted",
  POLL_CLOSED: "pollErrClosed",
  NOT_A_FAMILY_VOTER: "pollErrFamilyOnly",
  NOT_POLL_OWNER: "errorNoAccess",
};

/** How long until `seconds` from now, in hours and minutes ("3 ч 20 мин"). */
function waitText(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const hours = Math.floor(minutes / 60);
  return hours ? t("durationHoursMinutes", { hours, minutes: minutes % 60 }) : t("durationMinutes", { minutes });
}

export function voiceErrorText(error: unknown): string {
  if (error instanceof ApiError) {
    // One reminder per family per school day: say when the next one may go, not "too often".
    if (error.reason === "REMINDER_LIMIT") return t("annErrReminderLimit", { wait: waitText(error.retryAfterSeconds) });
    const key = REASONS[error.reason];
    if (key) return t(key);
    if (error.fieldViolations.some((v) => v.field === "deadline" || v.field === "closes_at" || v.field === "closesAt"))
      return t("voiceErrFuture");
    if (error.fieldViolations.some((v) => v.field === "options" || v.field.startsWith("options"))) return t("pollErrOptions");
  }
  return describeError(error);
}

export function VoiceError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {voiceErrorText(error)}
    </p>
  );
}
