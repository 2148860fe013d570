// Data exports (issue 17, docs/web.md "Data exports"): a person exports their own data (Settings) and
// a guardian a child's (Children). identity's RequestDataExport decides who may; chat assembles the
// archive and reports its progress (GetDataExport) until it lies in the requester's storage, where
// the gateway's file route downloads it. ListDataExports lists earlier exports and tells a child of
// 14 or older that a guardian exported their data.
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, fileUrl } from "../api";
import { t } from "../i18n";
import { useSubmit } from "../submit";
import { ErrorNote, formatTime } from "./common";

export const IdentityExports = "parta.identity.v1.ExportService";
export const ChatExports = "parta.chat.v1.ExportService";

export interface DataExport {
  exportId: string;
  requestedByUserId?: string;
  subjectUserId?: string;
  requestedAt?: string;
  state?: string;
  partsReceived?: number;
  partsTotal?: number;
  parts?: string[];
  fileId?: string;
  sizeBytes?: string;
  deliveredAt?: string;
  notice?: string;
  requestedByName?: string;
}

const POLL_MS = 1000;
// chat hears of an export from identity's event a moment after RequestDataExport answers: until
// then GetDataExport says NOT_FOUND. A fresh request waits this long before showing that.
const ARRIVAL_MS = 30_000;
const DELIVERED = "DATA_EXPORT_STATE_DELIVERED";

function exportSize(bytes: number): string {
  const format = (n: number) => n.toLocaleString(undefined, { maximumFractionDigits: 1 });
  if (bytes >= 1024 * 1024) return t("sizeMb", { n: format(bytes / (1024 * 1024)) });
  return t("sizeKb", { n: format(Math.max(bytes / 1024, 0.1)) });
}

/** The export button for one subject (me or a child), the running export and the earlier ones. */
export function DataExports({ subjectUserId, buttonLabel }: { subjectUserId: string; buttonLabel: string }) {
  const submit = useSubmit();
  const [fresh, setFresh] = useState<string[]>([]);
  const [earlier, setEarlier] = useState<DataExport[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    call<{ requested?: DataExport[] }>(ChatExports, "ListDataExports", {}, { idempotent: true }).then(
      (reply) => setEarlier((reply.requested ?? []).filter((e) => e.subjectUserId === subjectUserId)),
      setError,
    );
  }, [subjectUserId]);

  const request = () =>
    submit.run(
      (requestId) =>
        call<{ exportId: string }>(IdentityExports, "RequestDataExport", { subjectUserId, requestId }, { idempotent: true }),
      (reply) => setFresh((ids) => (ids.includes(reply.exportId) ? ids : [reply.exportId, ...ids])),
    );

  const older = (earlier ?? []).filter((e) => !fresh.includes(e.exportId));
  return (
    <div class="data-exports">
      <div class="row">
        <button type="button" disabled={submit.busy} onClick={() => void request()}>
          {buttonLabel}
        </button>
      </div>
      <ErrorNote error={submit.error ?? error} />
      {(fresh.length > 0 || older.length > 0) && (
        <ul class="plain exports" aria-label={t("exportsList")}>
          {fresh.map((id) => (
            <ExportItem key={id} exportId={id} fresh />
          ))}
          {older.map((e) => (
            <ExportItem key={e.exportId} exportId={e.exportId} initial={e} />
          ))}
        </ul>
      )}
    </div>
  );
}

/** One export: its progress, polled until delivered, then the archive's download link. */
export function ExportItem({ exportId, initial, fresh = false }: { exportId: string; initial?: DataExport; fresh?: boolean }) {
  const [current, setCurrent] = useState<DataExport | undefined>(initial);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (current?.state === DELIVERED) return;
    const started = Date.now();
    let timer = 0;
    let stopped = false;
    const poll = async () => {
      try {
        const reply = await call<{ export: DataExport }>(ChatExports, "GetDataExport", { exportId }, { idempotent: true });
        if (stopped) return;
        setCurrent(reply.export);
        setError(null);
        if (reply.export.state === DELIVERED) return;
      } catch (e) {
        if (stopped) return;
        const arriving = fresh && e instanceof ApiError && e.code === "NOT_FOUND" && Date.now() - started < ARRIVAL_MS;
        if (!arriving) {
          setError(e);
          if (e instanceof ApiError && (e.code === "NOT_FOUND" || e.code === "PERMISSION_DENIED")) return;
        }
      }
      timer = window.setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [exportId]);

  const received = current?.partsReceived ?? 0;
  const total = current?.partsTotal || 4;
  return (
    <li class="export" data-export-id={exportId}>
      <p>
        {t("exportRequestedAt", { time: formatTime(current?.requestedAt) || t("exportJustNow") })}
      </p>
      <ErrorNote error={error} />
      {!error && current?.state === DELIVERED && current.fileId ? (
        <p>
          <a href={fileUrl(current.fileId)} download data-external>
            {t("exportDownload", { size: exportSize(Number(current.sizeBytes ?? 0)) })}
          </a>{" "}
          <span class="muted">{t("exportDeliveredAt", { time: formatTime(current.deliveredAt) })}</span>
        </p>
      ) : (
        !error && (
          <p>
            <progress max={total} value={received} aria-label={t("exportProgressLabel")} />{" "}
            <span role="status">{t("exportProgress", { received, total })}</span>
          </p>
        )
      )}
    </li>
  );
}

/** Exports of my data a guardian made once I was 14 or older (ListDataExports.about_me). */
export function ExportsAboutMe() {
  const [about, setAbout] = useState<DataExport[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    call<{ aboutMe?: DataExport[] }>(ChatExports, "ListDataExports", {}, { idempotent: true }).then(
      (reply) => setAbout(reply.aboutMe ?? []),
      setError,
    );
  }, []);
  if (!error && about.length === 0) return null;
  return (
    <div class="exports-about-me">
      <ErrorNote error={error} />
      <ul class="plain">
        {about.map((e) => (
          <li key={e.exportId} class="notice">
            {t("exportAboutMe", { name: e.requestedByName || t("exportSomeGuardian"), time: formatTime(e.requestedAt) })}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** /exports/:id — one export's progress by its id (a link kept from the list). */
export function ExportScreen({ exportId }: { exportId: string }) {
  return (
    <section aria-labelledby="export-title">
      <h1 id="export-title">{t("exportTitle")}</h1>
      <ul class="plain exports">
        <ExportItem exportId={exportId} />
      </ul>
    </section>
  );
}
