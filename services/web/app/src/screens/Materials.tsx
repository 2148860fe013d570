// School materials ("Материалы", MaterialService): documents, videos and links for the whole school
// or one class. Members read the school's list and their classes' lists (documents download,
// videos play, links open in a new tab with rel=noopener); admins publish for any audience, a class's
// verified teachers for their class (a file is uploaded resumably with progress, or a link); the
// publisher or an admin removes. Publishing writes «Опубликован материал» into the class and
// parents' chats (or the school channel), which links here.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, Classes, fileUrl, Memberships } from "../api";
import { ErrorNote, formatTime } from "../components/common";
import { locale, t, type Key } from "../i18n";
import { nameOf, namesVersion } from "../names";
import { myUserId, session, type MySchool } from "../session";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";
import { uploadResumable } from "../uploads";

export const MaterialService = "parta.chat.v1.MaterialService";
// chat's CHAT_MAX_FILE_BYTES and the gateway's WEB_MAX_RESUMABLE_UPLOAD_BYTES (docs/web.md).
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const TEACHING = ["CLASS_ROLE_CLASS_HEAD", "CLASS_ROLE_SUBJECT_TEACHER"];

interface Material {
  materialId: string;
  schoolId: string;
  classId?: string;
  title: string;
  description?: string;
  kind?: string;
  fileId?: string;
  filename?: string;
  sizeBytes?: string;
  contentType?: string;
  url?: string;
  publishedByUserId?: string;
  publishedAt?: string;
}

interface Audience {
  classId: string; // "": the whole school
  title: string;
  mayPublish: boolean;
}

interface SchoolClass {
  classId: string;
  title?: string;
  isStaffRoom?: boolean;
}

export function Materials() {
  const state = useSignal(session);
  const schools = state.kind === "ready" ? state.schools : [];
  const [schoolId, setSchoolId] = useState("");
  const current = schools.find((s) => s.school.schoolId === schoolId) ?? schools[0];
  return (
    <section aria-labelledby="materials-title">
      <h1 id="materials-title">{t("materialsTitle")}</h1>
      {schools.length === 0 && <p>{t("noSchools")}</p>}
      {schools.length > 1 && (
        <p>
          <label for="materials-school">{t("joinSchool")}</label>
          <select id="materials-school" value={current?.school.schoolId} onChange={(e) => setSchoolId(e.currentTarget.value)}>
            {schools.map((s) => (
              <option key={s.school.schoolId} value={s.school.schoolId}>
                {s.school.name}
              </option>
            ))}
          </select>
        </p>
      )}
      {current && <SchoolMaterials key={current.school.schoolId} school={current} />}
    </section>
  );
}

function SchoolMaterials({ school }: { school: MySchool }) {
  const schoolId = school.school.schoolId;
  const isAdmin = (school.roles ?? []).includes("SCHOOL_ROLE_ADMIN");
  const verified = isAdmin || Boolean(school.verified);
  const [audiences, setAudiences] = useState<Audience[] | null>(null);
  const [lists, setLists] = useState<Map<string, Material[]>>(new Map());
  const [error, setError] = useState<unknown>(null);

  async function loadList(classId: string) {
    const reply = await call<{ materials?: Material[] }>(MaterialService, "ListMaterials", { schoolId, classId, pageSize: 100 }, { idempotent: true });
    setLists((current) => new Map(current).set(classId, reply.materials ?? []));
  }

  useEffect(() => {
    Promise.all([
      call<{ classes?: SchoolClass[] }>(Classes, "ListClasses", { schoolId, page: { pageSize: 100 } }, { idempotent: true }),
      call<{ memberships?: { classId?: string; classRole?: string }[] }>(Memberships, "GetMemberships", { userId: myUserId(), schoolId }, { idempotent: true }),
    ]).then(([classes, mine]) => {
      const seats = new Map<string, Set<string>>();
      for (const m of mine.memberships ?? []) {
        if (m.classId && m.classRole) seats.set(m.classId, (seats.get(m.classId) ?? new Set()).add(m.classRole));
      }
      // The school's list, then the classes whose lists the caller reads: all of them for an admin,
      // else the classes of their seats (a student's, a parent's child's, the ones they teach).
      const found: Audience[] = [{ classId: "", title: t("materialsWholeSchool"), mayPublish: isAdmin }];
      for (const c of classes.classes ?? []) {
        if (c.isStaffRoom || !(isAdmin || seats.has(c.classId))) continue;
        const teaches = TEACHING.some((role) => seats.get(c.classId)?.has(role));
        found.push({ classId: c.classId, title: c.title ?? c.classId, mayPublish: isAdmin || (verified && teaches) });
      }
      setAudiences(found);
      return Promise.all(found.map((a) => loadList(a.classId)));
    }).catch(setError);
  }, [schoolId]);

  if (!audiences) return error ? <ErrorNote error={error} /> : <p>{t("loading")}</p>;
  const publishable = audiences.filter((a) => a.mayPublish);
  return (
    <div class="materials">
      <ErrorNote error={error} />
      {publishable.length > 0 && <PublishForm schoolId={schoolId} audiences={publishable} onPublished={(classId) => void loadList(classId).catch(setError)} />}
      {audiences.map((audience) => (
        <section key={audience.classId || "school"} class="card" aria-labelledby={`materials-${audience.classId || "school"}`}>
          <h2 id={`materials-${audience.classId || "school"}`}>{audience.title}</h2>
          <MaterialList
            items={lists.get(audience.classId)}
            mayRemove={(m) => isAdmin || m.publishedByUserId === myUserId()}
            onRemoved={() => void loadList(audience.classId).catch(setError)}
          />
        </section>
      ))}
    </div>
  );
}

function formatSize(bytes: number): string {
  const format = (n: number) => n.toLocaleString(locale(), { maximumFractionDigits: 1 });
  if (bytes >= 1024 * 1024) return t("sizeMb", { n: format(bytes / (1024 * 1024)) });
  return t("sizeKb", { n: format(Math.max(bytes / 1024, 0.1)) });
}

function MaterialList({ items, mayRemove, onRemoved }: { items: Material[] | undefined; mayRemove: (m: Material) => boolean; onRemoved: () => void }) {
  useSignal(namesVersion);
  const [error, setError] = useState<unknown>(null);
  if (items === undefined) return <p>{t("loading")}</p>;
  if (items.length === 0) return <p class="muted">{t("materialsEmpty")}</p>;

  async function remove(m: Material) {
    setError(null);
    try {
      await call(MaterialService, "RemoveMaterial", { schoolId: m.schoolId, materialId: m.materialId });
      onRemoved();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <>
      <ErrorNote error={error} />
      <ul class="material-list">
        {items.map((m) => {
          const isFile = m.kind === "MATERIAL_KIND_FILE";
          const video = isFile && (m.contentType ?? "").startsWith("video/");
          return (
            <li key={m.materialId} class="material" data-material-id={m.materialId}>
              <h3>{m.title}</h3>
              {m.description && <p class="material-description">{m.description}</p>}
              <p class="muted">
                {isFile ? (video ? t("materialsKindVideo") : t("materialsKindDocument")) : t("materialsKindLink")}
                {isFile && ` · ${m.filename ?? ""} · ${formatSize(Number(m.sizeBytes ?? 0))}`} · {t("materialsPublished", { name: nameOf(m.publishedByUserId ?? ""), time: formatTime(m.publishedAt) })}
              </p>
              {video && <video class="material-video" controls preload="metadata" src={fileUrl(m.fileId ?? "")} aria-label={t("materialsPlay", { title: m.title })} />}
              <p class="material-actions">
                {isFile && (
                  <a class="button" href={fileUrl(m.fileId ?? "")} download={m.filename ?? ""} data-external>
                    {t("materialsDownload", { name: m.filename ?? m.title })}
                  </a>
                )}
                {!isFile && m.url && (
                  <a class="button" href={m.url} target="_blank" rel="noopener noreferrer" data-external>
                    {t("materialsOpenLink", { title: m.title })}
                  </a>
                )}
                {mayRemove(m) && (
                  <button type="button" class="secondary" onClick={() => void remove(m)}>
                    {t("materialsRemove", { title: m.title })}
                  </button>
                )}
              </p>
              {!isFile && m.url && <p class="muted material-url">{m.url}</p>}
            </li>
          );
        })}
      </ul>
    </>
  );
}

function PublishForm({ schoolId, audiences, onPublished }: { schoolId: string; audiences: Audience[]; onPublished: (classId: string) => void }) {
  // A teacher's own class first; an admin's whole school first.
  const [classId, setClassId] = useState((audiences.find((a) => a.classId) ?? audiences[0]).classId);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [kind, setKind] = useState<"file" | "link">("file");
  const [file, setFile] = useState<File | null>(null);
  const [url, setUrl] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [done, setDone] = useState("");
  // One publication, one request id until it succeeds (a retry answers with the same material);
  // an uploaded file is kept for a retry of the same file.
  const { busy, error, setError, run } = useSubmit();
  const uploaded = useRef<{ file: File; fileId: string } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setDone("");
    if (kind === "file" && !file) return setError(new FormProblem("materialsNoFile"));
    if (kind === "file" && file && file.size > MAX_FILE_BYTES) return setError(new FormProblem("materialsFileTooLarge"));
    await run(
      async (requestId) => {
        const body: Record<string, unknown> = { schoolId, classId, requestId, title, description };
        if (kind === "file" && file) {
          if (uploaded.current?.file !== file) {
            setProgress(0);
            const info = await uploadResumable(file, setProgress);
            uploaded.current = { file, fileId: info.fileId };
          }
          body.fileId = uploaded.current!.fileId;
        } else {
          body.url = url.trim();
        }
        await call(MaterialService, "PublishMaterial", body, { idempotent: true });
      },
      () => {
        setDone(t("materialsPublishedNote", { title }));
        uploaded.current = null;
        setTitle("");
        setDescription("");
        setFile(null);
        setUrl("");
        if (fileInput.current) fileInput.current.value = "";
        onPublished(classId);
      },
    );
    setProgress(null);
  }

  return (
    <form class="card publish-material" onSubmit={submit} aria-labelledby="publish-material-title">
      <h2 id="publish-material-title">{t("materialsPublishTitle")}</h2>
      <p>
        <label for="material-audience">{t("materialsAudience")}</label>
        <select id="material-audience" value={classId} onChange={(e) => setClassId(e.currentTarget.value)}>
          {audiences.map((a) => (
            <option key={a.classId || "school"} value={a.classId}>
              {a.title}
            </option>
          ))}
        </select>
      </p>
      <p>
        <label for="material-title">{t("materialsTitleField")}</label>
        <input id="material-title" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </p>
      <p>
        <label for="material-description">{t("materialsDescription")}</label>
        <textarea id="material-description" maxLength={2000} rows={2} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </p>
      <fieldset>
        <legend>{t("materialsKind")}</legend>
        <label class="check">
          <input type="radio" name="material-kind" value="file" checked={kind === "file"} onChange={() => setKind("file")} /> {t("materialsKindFile")}
        </label>{" "}
        <label class="check">
          <input type="radio" name="material-kind" value="link" checked={kind === "link"} onChange={() => setKind("link")} /> {t("materialsKindLink")}
        </label>
      </fieldset>
      {kind === "file" ? (
        <p>
          <label for="material-file">{t("materialsFile")}</label>
          <input id="material-file" ref={fileInput} type="file" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        </p>
      ) : (
        <p>
          <label for="material-url">{t("materialsUrl")}</label>
          <input id="material-url" type="url" required maxLength={2000} placeholder="https://" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </p>
      )}
      {progress !== null && file && (
        <p>
          <label for="material-progress">{t("uploading", { name: file.name, percent: Math.round(progress * 100) })}</label>
          <progress id="material-progress" max={1} value={progress} />
        </p>
      )}
      <MaterialError error={error} />
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {t("materialsPublish")}
      </button>
    </form>
  );
}

/** A problem the form finds before asking the server. */
class FormProblem extends Error {
  constructor(readonly key: Key) {
    super(key);
  }
}

const REASONS: Record<string, Key> = { FILE_TOO_LARGE: "materialsFileTooLarge", QUOTA_EXCEEDED: "materialsQuota" };

/** The form's errors in people's words: the file's size, the quota, a bad link, else the shared mapping. */
function MaterialError({ error }: { error: unknown }) {
  if (!error) return null;
  const reason = (error as { reason?: string }).reason ?? "";
  const fields = (error as { fieldViolations?: { field: string }[] }).fieldViolations ?? [];
  const key = error instanceof FormProblem ? error.key : REASONS[reason] ?? (fields.some((v) => v.field === "url") ? "materialsBadUrl" : undefined);
  if (!key) return <ErrorNote error={error} />;
  return (
    <p class="error" role="alert">
      {t(key)}
    </p>
  );
}
