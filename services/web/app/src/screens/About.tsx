// The school's card ("О школе"): every member reads it; admins fill it in (SchoolInfoService).
import { useEffect, useState } from "preact/hooks";
import { call, SchoolInfo } from "../api";
import { ErrorNote } from "../components/common";
import { t, type Key } from "../i18n";
import { session, type MySchool } from "../session";
import { useSignal } from "../signal";
import { useSubmit } from "../submit";

interface Card {
  schoolId: string;
  fullName?: string;
  shortName?: string;
  address?: string;
  directorName?: string;
  phone?: string;
  email?: string;
  website?: string;
  description?: string;
  logo?: { contentType: string; sizeBytes: string; sha256Hex: string };
  version?: string;
}

// Card field → its label, in the card's order (the API's camelCase JSON names).
const FIELDS: [keyof Card, Key][] = [
  ["fullName", "cardFullName"],
  ["shortName", "cardShortName"],
  ["address", "cardAddress"],
  ["directorName", "cardDirector"],
  ["phone", "cardPhone"],
  ["email", "cardEmail"],
  ["website", "cardWebsite"],
  ["description", "cardDescription"],
];

export function About() {
  const state = useSignal(session);
  const schools = state.kind === "ready" ? state.schools : [];
  const [schoolId, setSchoolId] = useState("");
  const current = schools.find((s) => s.school.schoolId === schoolId) ?? schools[0];
  return (
    <section aria-labelledby="about-title">
      <h1 id="about-title">{t("aboutTitle")}</h1>
      {schools.length === 0 && <p>{t("noSchools")}</p>}
      {schools.length > 1 && (
        <p>
          <label for="about-school">{t("joinSchool")}</label>
          <select id="about-school" value={current?.school.schoolId} onChange={(e) => setSchoolId(e.currentTarget.value)}>
            {schools.map((s) => (
              <option key={s.school.schoolId} value={s.school.schoolId}>
                {s.school.name}
              </option>
            ))}
          </select>
        </p>
      )}
      {current && <CardView key={current.school.schoolId} school={current} />}
    </section>
  );
}

function CardView({ school }: { school: MySchool }) {
  const schoolId = school.school.schoolId;
  const isAdmin = (school.roles ?? []).includes("SCHOOL_ROLE_ADMIN");
  const [card, setCard] = useState<Card | null>(null);
  const [logo, setLogo] = useState("");
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<unknown>(null);

  function show(next: Card) {
    setCard(next);
    setLogo("");
    if (next.logo) {
      call<{ logo: { contentType: string }; data: string }>(SchoolInfo, "GetSchoolLogo", { schoolId }).then(
        (reply) => setLogo(`data:${reply.logo.contentType};base64,${reply.data}`),
        () => setLogo(""),
      );
    }
  }

  useEffect(() => {
    call<{ info: Card }>(SchoolInfo, "GetSchoolInfo", { schoolId }).then((reply) => show(reply.info), setError);
  }, [schoolId]);

  if (!card) return <ErrorNote error={error} />;
  return (
    <div class="card school-card">
      {logo && <img class="school-logo" src={logo} alt={t("cardLogoAlt", { name: card.shortName || card.fullName || "" })} />}
      <h2>{card.fullName}</h2>
      <dl>
        {FIELDS.slice(1).map(([field, label]) =>
          card[field] ? (
            <div key={field}>
              <dt>{t(label)}</dt>
              <dd>{field === "website" ? <a href={String(card[field])} rel="noopener noreferrer" target="_blank" data-external>{String(card[field])}</a> : String(card[field])}</dd>
            </div>
          ) : null,
        )}
      </dl>
      {Number(card.version ?? "0") === 0 && <p class="muted">{t("cardEmpty")}</p>}
      <ErrorNote error={error} />
      {isAdmin && !editing && (
        <button type="button" onClick={() => setEditing(true)}>
          {t("cardEdit")}
        </button>
      )}
      {isAdmin && editing && <CardForm card={card} onSaved={(saved) => (show(saved), setEditing(false))} onCancel={() => setEditing(false)} />}
    </div>
  );
}

function toBase64(bytes: ArrayBuffer): string {
  let text = "";
  new Uint8Array(bytes).forEach((b) => (text += String.fromCharCode(b)));
  return btoa(text);
}

function CardForm({ card, onSaved, onCancel }: { card: Card; onSaved: (card: Card) => void; onCancel: () => void }) {
  const [values, setValues] = useState<Record<string, string>>(Object.fromEntries(FIELDS.map(([f]) => [f, String(card[f] ?? "")])));
  const [logoFile, setLogoFile] = useState<File | null>(null);
  const { busy, error, run } = useSubmit();

  function submit(event: Event) {
    event.preventDefault();
    return run(
      async () => {
        const changed = FIELDS.map(([f]) => f).filter((f) => values[f] !== String(card[f] ?? ""));
        const body: Record<string, unknown> = { info: { schoolId: card.schoolId, ...values }, expectedVersion: card.version ?? "0" };
        const paths: string[] = [...changed];
        if (logoFile) {
          paths.push("logo");
          body.logoData = toBase64(await logoFile.arrayBuffer());
        }
        if (paths.length === 0) return null; // nothing changed
        body.updateMask = paths.join(",");
        return (await call<{ info: Card }>(SchoolInfo, "UpdateSchoolInfo", body)).info;
      },
      (saved) => (saved ? onSaved(saved) : onCancel()),
    );
  }

  return (
    <form onSubmit={submit}>
      {FIELDS.map(([field, label]) => (
        <div key={field}>
          <label for={`card-${field}`}>{t(label)}</label>
          {field === "description" ? (
            <textarea id={`card-${field}`} rows={4} value={values[field]} onInput={(e) => setValues({ ...values, [field]: e.currentTarget.value })} />
          ) : (
            <input
              id={`card-${field}`}
              type={field === "email" ? "email" : field === "website" ? "url" : field === "phone" ? "tel" : "text"}
              required={field === "fullName"}
              value={values[field]}
              onInput={(e) => setValues({ ...values, [field]: e.currentTarget.value })}
            />
          )}
        </div>
      ))}
      <label for="card-logo">{t("cardLogo")}</label>
      <input id="card-logo" type="file" accept="image/png,image/jpeg,image/webp" onChange={(e) => setLogoFile(e.currentTarget.files?.[0] ?? null)} />
      <ErrorNote error={error} />
      <div class="row">
        <button type="submit" disabled={busy}>
          {t("cardSave")}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}
