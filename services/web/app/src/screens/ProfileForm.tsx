// The educational profile, created once after the first sign-in (ProfileService.CreateProfile).
import { useRef, useState } from "preact/hooks";
import { call, newId, Profiles } from "../api";
import { ErrorNote } from "../components/common";
import { t } from "../i18n";

export function ProfileForm({ onCreated }: { onCreated: () => void }) {
  const [first, setFirst] = useState("");
  const [last, setLast] = useState("");
  const [patronymic, setPatronymic] = useState("");
  const [birth, setBirth] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const requestId = useRef(newId());

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(Profiles, "CreateProfile", {
        firstName: first.trim(),
        lastName: last.trim(),
        patronymic: patronymic.trim(),
        birthDate: birth,
        requestId: requestId.current,
      });
      onCreated();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card narrow" aria-labelledby="profile-title">
      <h1 id="profile-title">{t("profileTitle")}</h1>
      <p>{t("profileIntro")}</p>
      <form onSubmit={submit}>
        <label for="first-name">{t("firstName")}</label>
        <input id="first-name" autoComplete="given-name" required value={first} onInput={(e) => setFirst(e.currentTarget.value)} />
        <label for="last-name">{t("lastName")}</label>
        <input id="last-name" autoComplete="family-name" required value={last} onInput={(e) => setLast(e.currentTarget.value)} />
        <label for="patronymic">{t("patronymic")}</label>
        <input id="patronymic" autoComplete="additional-name" value={patronymic} onInput={(e) => setPatronymic(e.currentTarget.value)} />
        <label for="birth-date">{t("birthDate")}</label>
        <input id="birth-date" type="date" autoComplete="bday" required value={birth} onInput={(e) => setBirth(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>
          {t("createProfile")}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
