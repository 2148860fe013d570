// Small shared pieces: error notes, role and time formatting.
import { ApiError } from "../api";
import { lang, locale, t, type Key } from "../i18n";

// What the services say is English for developers; people read these instead. A reason (ErrorInfo)
// is the most specific, then a field violation, then the gRPC code; what is left is a generic line
// in the page's language (English pages may show the service's own message, each sentence once).
const REASON_KEYS: Record<string, Key> = {
  CODE_INVALID: "errorCode",
  CODE_MISMATCH: "errorCode",
  NOT_A_MEMBER: "errorNotAMember",
  MEMBER_NOT_FOUND: "errorNotAMember",
  NOT_IN_CLASS: "errorNotAMember",
  INVITE_NOT_FOUND: "errorInviteInvalid",
  INVITE_REVOKED: "errorInviteInvalid",
  INVITE_EXHAUSTED: "errorInviteUsedUp",
  CLASS_ARCHIVED: "errorInviteInvalid",
  NOT_STAFF: "errorStaffOnly",
  STAFF_NOT_VERIFIED: "errorNotVerified",
  EDIT_WINDOW_PASSED: "errorEditWindow",
  BODY_TOO_LARGE: "errorTooLarge",
  NOT_SIGNED_IN: "errorSignedOut",
  TOKEN_EXPIRED: "errorSignedOut",
  SESSION_INVALID: "errorSignedOut",
  SESSION_REVOKED: "errorSignedOut",
  SESSION_EXPIRED: "errorSignedOut",
  SESSION_NOT_FOUND: "errorSignedOut",
  REFRESH_TOKEN_INVALID: "errorSignedOut",
  REFRESH_TOKEN_REUSED: "errorSignedOut",
  CHALLENGE_LOCKED: "errorTooManyAttempts",
  SMS_UNAVAILABLE: "errorUnavailable",
  // moderation and quiet hours (docs/chat.md)
  DIRECT_MESSAGES_NOT_ACCEPTED: "errorDmNotAccepted",
  URGENT_NOT_ALLOWED: "errorUrgentNotAllowed",
  NOT_MODERATOR: "errorNotModerator",
  NOT_ADMIN: "errorNotAdmin",
  REPORT_NOT_FOUND: "errorReportNotFound",
  REPORT_DECIDED: "errorReportDecided",
  PROVISIONED_CHAT: "errorProvisionedChat",
  MEMBER_MUTED: "errorMuted",
  // data exports (issue 17)
  EXPORT_NOT_ALLOWED: "errorExportNotAllowed",
  EXPORT_NOT_FOUND: "errorExportNotFound",
};

const FIELD_KEYS: Record<string, Key> = {
  phone: "errorPhone",
  child_phone: "errorPhone",
  childPhone: "errorPhone",
  code: "errorCode",
  token: "errorInviteInvalid",
  birth_date: "errorBirthDate",
  birthDate: "errorBirthDate",
  urgent_reason: "errorUrgentReason",
  urgentReason: "errorUrgentReason",
  note: "errorReportNote",
  mute_seconds: "errorMuteSeconds",
  muteSeconds: "errorMuteSeconds",
};

const CODE_KEYS: Record<string, Key> = {
  PERMISSION_DENIED: "errorNoAccess",
  NOT_FOUND: "errorNotFound",
  UNAUTHENTICATED: "errorSignedOut",
  UNAVAILABLE: "errorUnavailable",
  DEADLINE_EXCEEDED: "errorUnavailable",
  RESOURCE_EXHAUSTED: "errorTooOften",
  ALREADY_EXISTS: "errorAlreadyExists",
  ABORTED: "errorConflict",
  FAILED_PRECONDITION: "errorNotNow",
  INTERNAL: "errorGeneric",
  UNKNOWN: "errorGeneric",
};

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.reason === "NETWORK") return t("errorNetwork");
    // The day's urgent allowance is used up until the school's midnight: say when, not "N seconds".
    if (error.reason === "URGENT_LIMIT")
      return t("errorUrgentLimit", { time: formatTime(new Date(Date.now() + error.retryAfterSeconds * 1000).toISOString()) });
    if (error.retryAfterSeconds > 0) return t("errorRateLimited", { seconds: error.retryAfterSeconds });
    const byReason = REASON_KEYS[error.reason];
    if (byReason) return t(byReason);
    const byField = error.fieldViolations.map((v) => FIELD_KEYS[v.field]).find((key) => key !== undefined);
    if (byField) return t(byField);
    const byCode = CODE_KEYS[error.code];
    if (byCode) return t(byCode);
    if (lang.get() === "en") return serviceMessage(error);
    return error.fieldViolations.length ? t("errorInvalid") : t("errorGeneric");
  }
  return t("errorGeneric");
}

// The service's own words, each said once: "phone: is not a valid phone number" and its field
// violation (phone / is not a valid phone number) are the same sentence.
export function serviceMessage(error: ApiError): string {
  const message = error.message.trim();
  const extra = error.fieldViolations
    .filter((v) => !message.includes(v.description))
    .map((v) => `${v.field}: ${v.description}`);
  if (!message) return extra.join("; ") || t("errorGeneric");
  return extra.length ? `${message} (${extra.join("; ")})` : message;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

const ROLE_KEYS: Record<string, Key> = {
  SCHOOL_ROLE_ADMIN: "roleAdmin",
  SCHOOL_ROLE_TEACHER: "roleTeacher",
  SCHOOL_ROLE_STUDENT: "roleStudent",
  SCHOOL_ROLE_PARENT: "roleParent",
};

export function roleName(role: string | undefined): string {
  const key = ROLE_KEYS[role ?? ""];
  return key ? t(key) : (role ?? "");
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return date.toLocaleString(locale(), sameDay ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}
