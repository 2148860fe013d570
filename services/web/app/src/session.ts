// Who is signed in: their profile, schools and roles. The session itself is the gateway's cookie.
import { ApiError, call, onSignedOut, Profiles, Schools } from "./api";
import { signal } from "./signal";

export interface Profile {
  userId: string;
  firstName?: string;
  lastName?: string;
  patronymic?: string;
  birthDate?: string;
  consentState?: string;
}

export interface MySchool {
  school: { schoolId: string; name: string; staffRoomClassId?: string; timezone?: string };
  roles?: string[];
  verified?: boolean;
}

export type SessionState =
  | { kind: "loading" }
  | { kind: "signedOut" }
  | { kind: "needsProfile"; userId: string }
  | { kind: "ready"; profile: Profile; schools: MySchool[] };

export const session = signal<SessionState>({ kind: "loading" });

export async function loadSession(userIdHint = ""): Promise<void> {
  // No session cookies at all: the sign-in screen, without a 401 from the profile call (the
  // browser would log it as a console error on every first visit).
  if (!(await hasSessionCookies())) {
    session.set({ kind: "signedOut" });
    return;
  }
  try {
    const { profile } = await call<{ profile: Profile }>(Profiles, "GetMyProfile", {}, { quietAuth: true, idempotent: true });
    const { schools = [] } = await call<{ schools?: MySchool[] }>(Schools, "ListMySchools", {}, { idempotent: true });
    session.set({ kind: "ready", profile, schools });
  } catch (error) {
    if (error instanceof ApiError && error.unauthenticated) session.set({ kind: "signedOut" });
    else if (error instanceof ApiError && error.reason === "PROFILE_MISSING") session.set({ kind: "needsProfile", userId: userIdHint });
    else throw error;
  }
}

async function hasSessionCookies(): Promise<boolean> {
  try {
    const response = await fetch("/api/session", { credentials: "same-origin" });
    return !response.ok || Boolean(((await response.json()) as { signedIn?: boolean }).signedIn);
  } catch {
    return true; // offline: let the real call report it
  }
}

export async function refreshSchools(): Promise<void> {
  const current = session.get();
  if (current.kind !== "ready") return;
  const { schools = [] } = await call<{ schools?: MySchool[] }>(Schools, "ListMySchools");
  session.set({ ...current, schools });
}

export function hasRole(role: string): boolean {
  const current = session.get();
  return current.kind === "ready" && current.schools.some((s) => (s.roles ?? []).includes(role));
}

export function myUserId(): string {
  const current = session.get();
  return current.kind === "ready" ? current.profile.userId : current.kind === "needsProfile" ? current.userId : "";
}

onSignedOut(() => {
  if (session.get().kind !== "signedOut") session.set({ kind: "signedOut" });
});
