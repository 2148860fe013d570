// My settings (/settings): the outcome of my reports («Мои жалобы», ListMyReports), the people whose
// direct messages I block (unblock here), and — for teachers — whether parents' urgent messages reach
// me at once outside working hours (SetUrgentNotifications).
import { useEffect, useState } from "preact/hooks";
import { call, Chats } from "../api";
import { chatList, refreshChats } from "../chats";
import { ErrorNote, formatTime } from "../components/common";
import { DataExports, ExportsAboutMe } from "../components/DataExports";
import { t } from "../i18n";
import { chatSettings, loadChatSettings, setBlocked } from "../moderation";
import { nameOf, namesVersion } from "../names";
import { hasRole, myUserId } from "../session";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";
import { ACTION_KEYS, chatLabel, STATE_KEYS } from "./Moderation";

interface MyReport {
  reportId: string;
  chatId: string;
  seq?: string;
  reason?: string;
  reportedAt?: string;
  state?: string;
  outcome?: string[];
  decidedAt?: string;
}

export function Settings() {
  return (
    <section aria-labelledby="settings-title" class="settings">
      <h1 id="settings-title">{t("settingsTitle")}</h1>
      <MyReports />
      <BlockList />
      {hasRole("SCHOOL_ROLE_TEACHER") && <UrgentSwitch />}
      <MyData />
    </section>
  );
}

/** My data (issue 17): export it, and — for a child of 14 or older — the exports a guardian made. */
function MyData() {
  return (
    <section aria-labelledby="my-data-title" class="card">
      <h2 id="my-data-title">{t("myDataTitle")}</h2>
      <ExportsAboutMe />
      <p class="muted">{t("myDataHint")}</p>
      <DataExports subjectUserId={myUserId()} buttonLabel={t("exportMine")} />
    </section>
  );
}

function MyReports() {
  const [reports, setReports] = useState<MyReport[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useSignal(chatList);

  const load = () =>
    call<{ reports?: MyReport[] }>(Chats, "ListMyReports", { limit: 100 }, { idempotent: true }).then(
      (reply) => (setReports(reply.reports ?? []), setError(null)),
      setError,
    );

  useEffect(() => {
    if (!chatList.get()) refreshChats().catch(() => undefined);
    void load();
  }, []);

  return (
    <section aria-labelledby="my-reports-title" class="card">
      <h2 id="my-reports-title">{t("myReportsTitle")}</h2>
      <div class="row">
        <button type="button" class="secondary" onClick={() => void load()}>
          {t("refresh")}
        </button>
      </div>
      <ErrorNote error={error} />
      {reports === null ? (
        <p>{t("loading")}</p>
      ) : reports.length === 0 ? (
        <p class="muted">{t("myReportsNone")}</p>
      ) : (
        <ul class="plain my-reports">
          {reports.map((r) => (
            <li key={r.reportId} class="my-report" data-report-id={r.reportId}>
              <p>
                {t("myReportLine", { chat: chatLabel(r.chatId), time: formatTime(r.reportedAt) })}{" "}
                <a href={`/chat/${encodeURIComponent(r.chatId)}`}>{t("openChat")}</a>
              </p>
              {r.reason && <p class="muted">{t("myReportReason", { reason: r.reason })}</p>}
              <p class="outcome">
                <strong>{t(STATE_KEYS[r.state ?? ""] ?? "reportOpen")}</strong>
                {(r.outcome ?? []).filter((a) => a !== "REPORT_ACTION_DISMISS").length > 0 &&
                  `: ${(r.outcome ?? [])
                    .filter((a) => a !== "REPORT_ACTION_DISMISS")
                    .map((a) => t(ACTION_KEYS[a] ?? "actionDeleted"))
                    .join(", ")}`}
                {r.decidedAt && ` (${formatTime(r.decidedAt)})`}
              </p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function BlockList() {
  const settings = useSignal(chatSettings);
  useSignal(namesVersion);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    loadChatSettings().catch(setError);
  }, []);

  return (
    <section aria-labelledby="blocked-title" class="card">
      <h2 id="blocked-title">{t("blockedTitle")}</h2>
      <p class="muted">{t("blockedExplain")}</p>
      <ErrorNote error={error} />
      {settings === null ? (
        <p>{t("loading")}</p>
      ) : settings.blockedUserIds.length === 0 ? (
        <p class="muted">{t("blockedNone")}</p>
      ) : (
        <ul class="plain">
          {settings.blockedUserIds.map((id) => (
            <li key={id} class="row">
              <span>{nameOf(id)}</span>
              <button type="button" class="secondary" onClick={() => setBlocked(id, false).catch(setError)}>
                {t("unblockUser")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function UrgentSwitch() {
  const settings = useSignal(chatSettings);
  const { busy, error, run } = useSubmit();
  // The box shows the choice at once (a controlled checkbox would snap back until the answer).
  const [pending, setPending] = useState<boolean | null>(null);

  async function change(enabled: boolean) {
    setPending(enabled);
    await run(
      () => call<{ urgentNotifications?: boolean }>(Chats, "SetUrgentNotifications", { enabled }),
      (reply) => {
        const current = chatSettings.get();
        chatSettings.set({ blockedUserIds: current?.blockedUserIds ?? [], urgentNotifications: Boolean(reply.urgentNotifications) });
      },
    );
    setPending(null);
  }

  return (
    <section aria-labelledby="urgent-title" class="card">
      <h2 id="urgent-title">{t("urgentSettingTitle")}</h2>
      <label class="check">
        <input
          type="checkbox"
          checked={pending ?? settings?.urgentNotifications ?? true}
          disabled={busy || settings === null}
          onChange={(e) => void change(e.currentTarget.checked)}
        />
        {t("urgentSetting")}
      </label>
      <p class="muted">{t("urgentSettingExplain")}</p>
      <ErrorNote error={error} />
    </section>
  );
}
