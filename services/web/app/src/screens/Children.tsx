// For parents: the children, consent, the children's teachers (write to them) and class chats.
import { useEffect, useState } from "preact/hooks";
import { call, Chats, Guardians, Memberships } from "../api";
import { ErrorNote } from "../components/common";
import { DataExports } from "../components/DataExports";
import { chatList, chatTitle, refreshChats } from "../chats";
import { t } from "../i18n";
import { navigate } from "../router";
import { nameOf, namesVersion } from "../names";
import { myUserId } from "../session";
import { useSignal } from "../signal";

interface Link {
  childUserId: string;
  displayName?: string;
  consentGranted?: boolean;
  childConsentState?: string;
  state?: string;
}

interface Member {
  membershipId: string;
  userId: string;
  schoolId: string;
  classId?: string;
  classRole?: string;
  childUserId?: string;
  subject?: string;
}

export function Children() {
  const [links, setLinks] = useState<Link[] | null>(null);
  const [memberships, setMemberships] = useState<Member[]>([]);
  const [error, setError] = useState<unknown>(null);

  const load = async () => {
    try {
      const reply = await call<{ links?: Link[] }>(Guardians, "ListMyChildren");
      setLinks(reply.links ?? []);
      const mine = await call<{ memberships?: Member[] }>(Memberships, "GetMemberships", { userId: myUserId() });
      setMemberships(mine.memberships ?? []);
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    void load();
    if (!chatList.get()) refreshChats().catch(() => undefined);
  }, []);

  async function consent(childUserId: string, grant: boolean) {
    try {
      await call(Guardians, grant ? "GrantConsent" : "RevokeConsent", { childUserId });
      await load();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="children-title">
      <h1 id="children-title">{t("childrenTitle")}</h1>
      <ErrorNote error={error} />
      {links?.length === 0 && <p>{t("noChildren")}</p>}
      {links?.map((link) => (
        <Child
          key={link.childUserId}
          link={link}
          classes={memberships.filter((m) => m.childUserId === link.childUserId && m.classId)}
          onConsent={(grant) => consent(link.childUserId, grant)}
        />
      ))}
    </section>
  );
}

function consentText(link: Link): string {
  if (link.childConsentState === "CONSENT_STATE_GRANTED") return t("consentGranted");
  if (link.childConsentState === "CONSENT_STATE_AWAITING_GUARDIAN") return t("consentAwaiting");
  return t("consentNotRequired");
}

function Child({ link, classes, onConsent }: { link: Link; classes: Member[]; onConsent: (grant: boolean) => void }) {
  const chats = useSignal(chatList);
  useSignal(namesVersion);
  const [teachers, setTeachers] = useState<Member[]>([]);
  const [error, setError] = useState<unknown>(null);
  const classIds = classes.map((c) => c.classId).join(",");

  useEffect(() => {
    Promise.all(
      classes.map((c) =>
        call<{ members?: Member[] }>(Memberships, "ListMembers", { schoolId: c.schoolId, classId: c.classId, page: { pageSize: 200 } }),
      ),
    ).then(
      (replies) =>
        setTeachers(
          replies.flatMap((r) => r.members ?? []).filter((m) => m.classRole === "CLASS_ROLE_CLASS_HEAD" || m.classRole === "CLASS_ROLE_SUBJECT_TEACHER"),
        ),
      setError,
    );
  }, [classIds]);

  async function write(teacher: Member) {
    try {
      const reply = await call<{ chat: { chat: { chatId: string } } }>(Chats, "OpenDirectChat", { schoolId: teacher.schoolId, userId: teacher.userId });
      await refreshChats();
      navigate(`/chat/${encodeURIComponent(reply.chat.chat.chatId)}`);
    } catch (e) {
      setError(e);
    }
  }

  const classChats = (chats ?? []).filter((view) => view.chat.classId && classIds.includes(view.chat.classId));
  const name = link.displayName || nameOf(link.childUserId);

  return (
    <article class="card" aria-label={name}>
      <h2>{name}</h2>
      <p>
        {t("consent")}: <strong>{consentText(link)}</strong>{" "}
        {link.childConsentState === "CONSENT_STATE_AWAITING_GUARDIAN" && (
          <button type="button" onClick={() => onConsent(true)}>
            {t("grantConsent")}
          </button>
        )}
        {link.consentGranted && (
          <button type="button" class="secondary" onClick={() => onConsent(false)}>
            {t("revokeConsent")}
          </button>
        )}
      </p>
      <ErrorNote error={error} />
      <h3>{t("childTeachers")}</h3>
      <ul class="plain">
        {teachers.map((teacher) => (
          <li key={teacher.membershipId} class="row">
            <span>
              {nameOf(teacher.userId)}{" "}
              <span class="muted">— {teacher.classRole === "CLASS_ROLE_CLASS_HEAD" ? t("classHead") : t("subjectTeacher", { subject: teacher.subject ?? "" })}</span>
            </span>
            <button type="button" class="secondary" onClick={() => write(teacher)}>
              {t("writeTo")}
            </button>
          </li>
        ))}
      </ul>
      <h3>{t("childChats")}</h3>
      <ul class="plain">
        {classChats.map((view) => (
          <li key={view.chat.chatId}>
            <a href={`/chat/${encodeURIComponent(view.chat.chatId)}`}>{chatTitle(view)}</a>
          </li>
        ))}
      </ul>
      <h3>{t("childData")}</h3>
      <p class="muted">{t("childDataHint")}</p>
      <DataExports subjectUserId={link.childUserId} buttonLabel={t("exportChild")} />
    </article>
  );
}
