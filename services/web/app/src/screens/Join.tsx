// /join/<token>: the invite's preview (public), then — signed in with a profile — AcceptInvite, and
// into the class chat once chat has learnt the membership (or a note that the request waits).
import { useEffect, useState } from "preact/hooks";
import { call, Chats, Invites } from "../api";
import { ErrorNote, roleName } from "../components/common";
import { t } from "../i18n";
import { navigate, rememberJoin } from "../router";
import { refreshSchools, session } from "../session";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";

interface Preview {
  schoolName?: string;
  classId?: string;
  classTitle?: string;
  role?: string;
  requiresApproval?: boolean;
}

type Outcome = { kind: "requested" } | { kind: "joined"; classId: string; title: string };

export function Join({ token }: { token: string }) {
  const state = useSignal(session);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const { busy, error, setError, run } = useSubmit();

  useEffect(() => {
    call<Preview>(Invites, "PreviewInvite", { token }).then(setPreview, setError);
  }, [token]);

  // Once joined, wait (with a deadline) for chat to list the class chat, then open it.
  useEffect(() => {
    if (outcome?.kind !== "joined") return;
    let cancelled = false;
    const deadline = Date.now() + 60_000;
    const look = async () => {
      while (!cancelled && Date.now() < deadline) {
        try {
          const { chats = [] } = await call<{ chats?: { chat: { chatId: string; classId?: string; kind?: string } }[] }>(Chats, "ListChats");
          const found =
            chats.find((c) => c.chat.classId === outcome.classId && c.chat.kind === "CHAT_KIND_CLASS") ??
            chats.find((c) => c.chat.classId === outcome.classId);
          if (found) {
            navigate(`/chat/${encodeURIComponent(found.chat.chatId)}`, true);
            return;
          }
        } catch (e) {
          setError(e);
        }
        await new Promise((resolve) => window.setTimeout(resolve, 700));
      }
    };
    void look();
    return () => {
      cancelled = true;
    };
  }, [outcome]);

  async function accept() {
    if (state.kind !== "ready") {
      rememberJoin(token);
      navigate("/signin");
      return;
    }
    await run(
      async () => {
        const reply = await call<{ classId?: string; joinRequest?: unknown }>(Invites, "AcceptInvite", { token });
        await refreshSchools();
        return reply;
      },
      (reply) => {
        if (reply.joinRequest) setOutcome({ kind: "requested" });
        else setOutcome({ kind: "joined", classId: reply.classId ?? preview?.classId ?? "", title: preview?.classTitle ?? "" });
      },
    );
  }

  return (
    <section class="card narrow" aria-labelledby="join-title">
      <h1 id="join-title">{t("joinTitle")}</h1>
      {!preview && !error && <p>{t("loading")}</p>}
      {preview && (
        <dl class="facts">
          <dt>{t("joinSchool")}</dt>
          <dd>{preview.schoolName}</dd>
          {preview.classTitle && (
            <>
              <dt>{t("joinClass")}</dt>
              <dd>{preview.classTitle}</dd>
            </>
          )}
          <dt>{t("joinRole")}</dt>
          <dd>{roleName(preview.role)}</dd>
        </dl>
      )}
      {preview?.requiresApproval && !outcome && <p>{t("joinNeedsApproval")}</p>}
      {preview && !outcome && (
        <button type="button" onClick={accept} disabled={busy}>
          {state.kind === "ready" ? t("joinAccept") : t("joinSignInFirst")}
        </button>
      )}
      {outcome?.kind === "requested" && (
        <p role="status">
          {t("joinRequested")} <a href="/">{t("openChats")}</a>
        </p>
      )}
      {outcome?.kind === "joined" && (
        <p role="status">
          {t("joinDone", { title: outcome.title })} {t("joinWaitingChat")}
        </p>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
