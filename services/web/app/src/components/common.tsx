// Small shared pieces: error notes, role and time formatting.
import { ApiError } from "../api";
import { locale, t, type Key } from "../i18n";

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.reason === "NETWORK") return t("errorNetwork");
    if (error.retryAfterSeconds > 0) return t("errorRateLimited", { seconds: error.retryAfterSeconds });
    if (error.reason === "CODE_INVALID" || error.reason === "CODE_MISMATCH") return t("errorCode");
    const fields = error.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ");
    return fields ? `${error.message} (${fields})` : error.message || error.reason || error.code;
  }
  return String(error);
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
