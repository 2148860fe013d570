// The moderation queue (/moderation): the reports of the schools I moderate (admins: the whole
// school; class heads: their class's class and parents' chats), each with the message as it was
// reported, who reported it and when; decisions (dismiss / delete / mute / remove, always with a
// reason). Admins also see the messages quiet hours still hold and deliver one now.
import { useEffect, useState } from "preact/hooks";
import { call, Chats } from "../api";
import { chatList, kindName } from "../chats";
import { ErrorNote, formatTime } from "../components/common";
import { t, type Key } from "../i18n";
import type { MessageSnapshot } from "../live";
import { moderatedSchools, type Moderated } from "../moderation";
import { nameOf, namesVersion } from "../names";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";

interface Decision {
  actions?: string[];
  moderatorUserId?: string;
  note?: string;
  decidedAt?: string;
  mutedUntil?: string;
}

interface Report {
  reportId: string;
  chatId: string;
  chatKind?: string;
  reporterUserId?: string;
  reason?: string;
  reportedAt?: string;
  message?: MessageSnapshot;
  state?: string;
  decisions?: Decision[];
}

interface Held {
  chatId: string;
  seq: string;
  senderUserId?: string;
  heldForUserIds?: string[];
  heldUntil?: string;
  urgent?: boolean;
}

export const ACTION_KEYS: Record<string, Key> = {
  REPORT_ACTION_DISMISS: "actionDismissed",
  REPORT_ACTION_DELETE_MESSAGE: "actionDeleted",
  REPORT_ACTION_MUTE_AUTHOR: "actionMuted",
  REPORT_ACTION_REMOVE_FROM_CHAT: "actionRemoved",
};

export const STATE_KEYS: Record<string, Key> = {
  REPORT_STATE_OPEN: "reportOpen",
  REPORT_STATE_DISMISSED: "reportDismissed",
  REPORT_STATE_ACTIONED: "reportActioned",
};

const MUTE_CHOICES: { seconds: number; key: Key }[] = [
  { seconds: 3600, key: "muteHour" },
  { seconds: 86400, key: "muteDay" },
  { seconds: 7 * 86400, key: "muteWeek" },
  { seconds: 30 * 86400, key: "muteMonth" },
];

/** The chat's title as I see it in my list, else its kind (an admin need not be a member). */
export function chatLabel(chatId: string, kind?: string): string {
  const view = chatList.get()?.find((v) => v.chat.chatId === chatId);
  if (view?.chat.kind === "CHAT_KIND_DIRECT" && view.peerUserId) return nameOf(view.peerUserId);
  return view?.chat.title || kindName(kind ?? view?.chat.kind) || t("chatUnknown");
}

export function Moderation() {
  const schools = useSignal(moderatedSchools);
  const [schoolId, setSchoolId] = useState("");
  useSignal(namesVersion);
  useSignal(chatList);

  if (schools === null) return <p>{t("loading")}</p>;
  if (schools.length === 0)
    return (
      <section aria-labelledby="moderation-title">
        <h1 id="moderation-title">{t("moderationTitle")}</h1>
        <p>{t("moderationNone")}</p>
      </section>
    );
  const current = schools.find((s) => s.schoolId === schoolId) ?? schools[0];
  return (
    <section aria-labelledby="moderation-title" class="moderation">
      <h1 id="moderation-title">{t("moderationTitle")}</h1>
      {schools.length > 1 && (
        <p>
          <label for="moderation-school">{t("selectSchool")}</label>
          <select id="moderation-school" value={current.schoolId} onChange={(e) => setSchoolId(e.currentTarget.value)}>
            {schools.map((s) => (
              <option key={s.schoolId} value={s.schoolId}>
                {s.name}
              </option>
            ))}
          </select>
        </p>
      )}
      <ReportQueue key={`q-${current.schoolId}`} school={current} />
      {current.isAdmin && <HeldMessages key={`h-${current.schoolId}`} schoolId={current.schoolId} />}
    </section>
  );
}

function ReportQueue({ school }: { school: Moderated }) {
  const [reports, setReports] = useState<Report[] | null>(null);
  const [includeClosed, setIncludeClosed] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const load = () =>
    call<{ reports?: Report[] }>(Chats, "ListReports", { schoolId: school.schoolId, includeClosed, limit: 100 }, { idempotent: true }).then(
      (reply) => (setReports(reply.reports ?? []), setError(null)),
      setError,
    );

  useEffect(() => {
    void load();
  }, [school.schoolId, includeClosed]);

  return (
    <section aria-labelledby="reports-title" class="card">
      <h2 id="reports-title">{t("reportsTitle")}</h2>
      <div class="row">
        <label class="check">
          <input type="checkbox" checked={includeClosed} onChange={(e) => setIncludeClosed(e.currentTarget.checked)} />
          {t("reportsIncludeClosed")}
        </label>
        <button type="button" class="secondary" onClick={() => void load()}>
          {t("refresh")}
        </button>
      </div>
      <ErrorNote error={error} />
      {reports === null ? (
        <p>{t("loading")}</p>
      ) : reports.length === 0 ? (
        <p class="muted">{includeClosed ? t("reportsNone") : t("reportsNoneOpen")}</p>
      ) : (
        <ul class="plain">
          {reports.map((report) => (
            <li key={report.reportId}>
              <ReportCard report={report} onDecided={() => void load()} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ReportCard({ report, onDecided }: { report: Report; onDecided(): void }) {
  const titleId = `report-${report.reportId}`;
  const message = report.message;
  const author = message?.senderUserId ? nameOf(message.senderUserId) : "";
  return (
    <article class="report card" aria-labelledby={titleId} data-report-id={report.reportId}>
      <h3 id={titleId}>{t("reportAbout", { chat: chatLabel(report.chatId, report.chatKind), author })}</h3>
      <blockquote class="reported-message">
        <p class="meta">
          <span class="sender">{author}</span> <time dateTime={message?.sentAt}>{formatTime(message?.sentAt)}</time>
        </p>
        <p class="text">{message?.text || t("reportNoText")}</p>
        {(message?.fileIds ?? []).length > 0 && <p class="muted">{t("reportFiles", { count: message?.fileIds?.length ?? 0 })}</p>}
      </blockquote>
      <dl class="facts">
        <dt>{t("reportBy")}</dt>
        <dd>{report.reporterUserId ? nameOf(report.reporterUserId) : ""}</dd>
        <dt>{t("reportWhen")}</dt>
        <dd>
          <time dateTime={report.reportedAt}>{formatTime(report.reportedAt)}</time>
        </dd>
        <dt>{t("reportWhy")}</dt>
        <dd>{report.reason || t("reportNoReason")}</dd>
        <dt>{t("reportState")}</dt>
        <dd>{t(STATE_KEYS[report.state ?? ""] ?? "reportOpen")}</dd>
      </dl>
      {(report.decisions ?? []).length > 0 && (
        <ul class="decisions">
          {(report.decisions ?? []).map((d, i) => (
            <li key={i}>
              {t("decisionLine", {
                time: formatTime(d.decidedAt),
                who: d.moderatorUserId ? nameOf(d.moderatorUserId) : "",
                actions: (d.actions ?? []).map((a) => t(ACTION_KEYS[a] ?? "actionDismissed")).join(", "),
                note: d.note ?? "",
              })}
            </li>
          ))}
        </ul>
      )}
      {report.state !== "REPORT_STATE_DISMISSED" && <DecisionForm report={report} onDecided={onDecided} />}
    </article>
  );
}

function DecisionForm({ report, onDecided }: { report: Report; onDecided(): void }) {
  const id = report.reportId;
  const [remove, setRemove] = useState(false);
  const [del, setDel] = useState(false);
  const [mute, setMute] = useState(false);
  const [muteSeconds, setMuteSeconds] = useState(86400);
  const [note, setNote] = useState("");
  const { busy, error, run } = useSubmit();
  const group = report.chatKind === "CHAT_KIND_GROUP";
  const open = report.state !== "REPORT_STATE_ACTIONED";
  const chosen = [
    ...(del ? ["REPORT_ACTION_DELETE_MESSAGE"] : []),
    ...(mute ? ["REPORT_ACTION_MUTE_AUTHOR"] : []),
    ...(remove && group ? ["REPORT_ACTION_REMOVE_FROM_CHAT"] : []),
  ];

  async function decide(actions: string[]) {
    if (!note.trim()) {
      document.getElementById(`note-${id}`)?.focus();
      return;
    }
    await run(
      () =>
        call(Chats, "ActOnReport", {
          reportId: id,
          actions,
          note: note.trim(),
          muteSeconds: actions.includes("REPORT_ACTION_MUTE_AUTHOR") ? muteSeconds : 0,
        }),
      onDecided,
    );
  }

  return (
    <form
      class="decision"
      onSubmit={(e) => {
        e.preventDefault();
        void decide(chosen);
      }}
    >
      <fieldset>
        <legend>{open ? t("decisionTitle") : t("decisionMore")}</legend>
        <label class="check">
          <input type="checkbox" checked={del} onChange={(e) => setDel(e.currentTarget.checked)} />
          {t("decisionDelete")}
        </label>
        <label class="check">
          <input type="checkbox" checked={mute} onChange={(e) => setMute(e.currentTarget.checked)} />
          {t("decisionMute")}
        </label>
        {mute && (
          <>
            <label for={`mute-${id}`}>{t("decisionMuteFor")}</label>
            <select id={`mute-${id}`} value={String(muteSeconds)} onChange={(e) => setMuteSeconds(Number(e.currentTarget.value))}>
              {MUTE_CHOICES.map((c) => (
                <option key={c.seconds} value={String(c.seconds)}>
                  {t(c.key)}
                </option>
              ))}
            </select>
          </>
        )}
        {group && (
          <label class="check">
            <input type="checkbox" checked={remove} onChange={(e) => setRemove(e.currentTarget.checked)} />
            {t("decisionRemove")}
          </label>
        )}
        <label for={`note-${id}`}>{t("decisionNote")}</label>
        <textarea id={`note-${id}`} rows={2} required maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </fieldset>
      <ErrorNote error={error} />
      <div class="row">
        <button type="submit" disabled={busy || chosen.length === 0}>
          {t("decisionApply")}
        </button>
        {open && (
          <button type="button" class="secondary" disabled={busy} onClick={() => void decide(["REPORT_ACTION_DISMISS"])}>
            {t("decisionDismiss")}
          </button>
        )}
      </div>
    </form>
  );
}

function HeldMessages({ schoolId }: { schoolId: string }) {
  const [held, setHeld] = useState<Held[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [released, setReleased] = useState<string | null>(null);

  const load = () =>
    call<{ messages?: Held[] }>(Chats, "ListHeldMessages", { schoolId }, { idempotent: true }).then(
      (reply) => (setHeld(reply.messages ?? []), setError(null)),
      setError,
    );

  useEffect(() => {
    void load();
  }, [schoolId]);

  async function release(message: Held) {
    setError(null);
    try {
      await call(Chats, "ReleaseHeldMessage", { chatId: message.chatId, seq: message.seq });
      setReleased(t("heldReleased", { from: nameOf(message.senderUserId ?? "") }));
      await load();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="held-title" class="card">
      <h2 id="held-title">{t("heldTitle")}</h2>
      <p class="muted">{t("heldExplain")}</p>
      <div class="row">
        <button type="button" class="secondary" onClick={() => void load()}>
          {t("refresh")}
        </button>
      </div>
      <ErrorNote error={error} />
      {released && <p role="status">{released}</p>}
      {held === null ? (
        <p>{t("loading")}</p>
      ) : held.length === 0 ? (
        <p class="muted">{t("heldNone")}</p>
      ) : (
        <ul class="plain held-list">
          {held.map((m) => (
            <li key={`${m.chatId}/${m.seq}`} class="row">
              <span>
                {t("heldLine", {
                  from: nameOf(m.senderUserId ?? ""),
                  to: (m.heldForUserIds ?? []).map(nameOf).join(", "),
                  time: formatTime(m.heldUntil),
                })}
                {m.urgent && ` · ${t("urgentMarkBare")}`}
              </span>
              <button type="button" onClick={() => void release(m)}>
                {t("heldRelease")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
