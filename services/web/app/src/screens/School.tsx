// For admins and teachers: classes, invites (link and QR on screen), join requests to approve,
// staff verification.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, Classes, Invites, JoinRequests, Memberships, newId, Schools } from "../api";
import { ErrorNote, roleName } from "../components/common";
import { Qr } from "../components/Qr";
import { t } from "../i18n";
import { nameOf, namesVersion } from "../names";
import { myUserId, session, type MySchool } from "../session";
import { useSignal } from "../signal";

interface SchoolClass {
  classId: string;
  title?: string;
  grade?: number;
  letter?: string;
  isStaffRoom?: boolean;
}

interface Member {
  membershipId: string;
  userId: string;
  schoolRole?: string;
  classId?: string;
  classRole?: string;
  childUserId?: string;
  subject?: string;
  verified?: boolean;
}

interface JoinRequest {
  joinRequestId: string;
  userId: string;
  role?: string;
  childUserId?: string;
}

export function School() {
  const state = useSignal(session);
  const schools = state.kind === "ready" ? state.schools.filter((s) => (s.roles ?? []).some((r) => r === "SCHOOL_ROLE_ADMIN" || r === "SCHOOL_ROLE_TEACHER")) : [];
  const [schoolId, setSchoolId] = useState("");
  const current = schools.find((s) => s.school.schoolId === schoolId) ?? schools[0];

  return (
    <section aria-labelledby="school-title">
      <h1 id="school-title">{t("schoolTitle")}</h1>
      {schools.length === 0 && <p>{state.kind === "ready" && state.schools.length > 0 ? t("schoolStaffOnly") : t("noSchools")}</p>}
      {schools.length > 1 && (
        <p>
          <label for="school-select">{t("joinSchool")}</label>
          <select id="school-select" value={current?.school.schoolId} onChange={(e) => setSchoolId(e.currentTarget.value)}>
            {schools.map((s) => (
              <option key={s.school.schoolId} value={s.school.schoolId}>
                {s.school.name}
              </option>
            ))}
          </select>
        </p>
      )}
      {current && <SchoolPanel key={current.school.schoolId} school={current} />}
    </section>
  );
}

// The caller's own seats in the school's classes (class head, subject teacher): what they may do
// where. Admins may do everything; a teacher invites into the classes they teach and decides join
// requests of the class they head, once an admin has verified them (school's permissions).
const TEACHING = ["CLASS_ROLE_CLASS_HEAD", "CLASS_ROLE_SUBJECT_TEACHER"];

function SchoolPanel({ school }: { school: MySchool }) {
  const isAdmin = (school.roles ?? []).includes("SCHOOL_ROLE_ADMIN");
  const verified = isAdmin || Boolean(school.verified);
  const schoolId = school.school.schoolId;
  const [classes, setClasses] = useState<SchoolClass[] | null>(null);
  const [seats, setSeats] = useState<Map<string, Set<string>> | null>(null);
  const [classId, setClassId] = useState("");
  const [error, setError] = useState<unknown>(null);

  const load = () =>
    Promise.all([
      call<{ classes?: SchoolClass[] }>(Classes, "ListClasses", { schoolId, page: { pageSize: 100 } }),
      call<{ memberships?: Member[] }>(Memberships, "GetMemberships", { userId: myUserId(), schoolId }),
    ]).then(([reply, mine]) => {
      const list = (reply.classes ?? []).filter((c) => !c.isStaffRoom);
      const mySeats = new Map<string, Set<string>>();
      for (const m of mine.memberships ?? []) {
        if (!m.classId || !m.classRole) continue;
        mySeats.set(m.classId, (mySeats.get(m.classId) ?? new Set()).add(m.classRole));
      }
      const seatIn = (role: string) => list.find((c) => mySeats.get(c.classId)?.has(role))?.classId;
      setClasses(list);
      setSeats(mySeats);
      // Open on the class the caller heads, else one they teach; admins (and teachers without a
      // class) on the first.
      setClassId((chosen) => chosen || seatIn("CLASS_ROLE_CLASS_HEAD") || seatIn("CLASS_ROLE_SUBJECT_TEACHER") || list[0]?.classId || "");
    }, setError);

  useEffect(() => {
    void load();
  }, [schoolId]);

  const chosen = classes?.find((c) => c.classId === classId);
  const mine = (chosen && seats?.get(chosen.classId)) || new Set<string>();
  const mayInvite = isAdmin || (verified && TEACHING.some((r) => mine.has(r)));
  const mayDecide = isAdmin || (verified && mine.has("CLASS_ROLE_CLASS_HEAD"));

  return (
    <div class="school">
      <h2>{school.school.name}</h2>
      <ErrorNote error={error} />
      <section aria-labelledby="classes-title" class="card">
        <h3 id="classes-title">{t("classes")}</h3>
        {classes === null ? (
          <p>{t("loading")}</p>
        ) : (
          <p>
            <label for="class-select">{t("selectClass")}</label>
            <select id="class-select" value={classId} onChange={(e) => setClassId(e.currentTarget.value)}>
              {classes.map((c) => (
                <option key={c.classId} value={c.classId}>
                  {c.title}
                </option>
              ))}
            </select>
          </p>
        )}
        {isAdmin && <CreateClass schoolId={schoolId} onCreated={(created) => (setClassId(created), void load())} />}
      </section>
      {chosen && mayInvite && <InvitePanel key={`i-${chosen.classId}`} schoolId={schoolId} klass={chosen} isAdmin={isAdmin} />}
      {chosen && mayDecide && <JoinRequestPanel key={`j-${chosen.classId}`} schoolId={schoolId} klass={chosen} />}
      {chosen && <ClassMembers key={`m-${chosen.classId}`} schoolId={schoolId} klass={chosen} />}
      {isAdmin && <StaffPanel schoolId={schoolId} />}
    </div>
  );
}

function CreateClass({ schoolId, onCreated }: { schoolId: string; onCreated: (classId: string) => void }) {
  const [grade, setGrade] = useState("5");
  const [letter, setLetter] = useState("");
  const [error, setError] = useState<unknown>(null);
  const requestId = useRef(newId());

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    try {
      const reply = await call<{ class: SchoolClass }>(Classes, "CreateClass", {
        requestId: requestId.current,
        schoolId,
        grade: Number(grade),
        letter: letter.trim(),
      });
      requestId.current = newId();
      setLetter("");
      onCreated(reply.class.classId);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <form class="inline-form" onSubmit={submit} aria-label={t("createClass")}>
      <label for="grade">{t("grade")}</label>
      <input id="grade" type="number" min={1} max={11} required value={grade} onInput={(e) => setGrade(e.currentTarget.value)} />
      <label for="letter">{t("letter")}</label>
      <input id="letter" required maxLength={2} value={letter} onInput={(e) => setLetter(e.currentTarget.value)} />
      <button type="submit">{t("createClass")}</button>
      <ErrorNote error={error} />
    </form>
  );
}

function InvitePanel({ schoolId, klass, isAdmin }: { schoolId: string; klass: SchoolClass; isAdmin: boolean }) {
  const [role, setRole] = useState("SCHOOL_ROLE_STUDENT");
  const [childId, setChildId] = useState("");
  const [approval, setApproval] = useState(false);
  const [students, setStudents] = useState<Member[]>([]);
  const [link, setLink] = useState("");
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useSignal(namesVersion);

  useEffect(() => {
    call<{ members?: Member[] }>(Memberships, "ListMembers", { schoolId, classId: klass.classId, page: { pageSize: 200 } }).then(
      (reply) => setStudents((reply.members ?? []).filter((m) => m.classRole === "CLASS_ROLE_STUDENT")),
      () => setStudents([]),
    );
  }, [klass.classId]);

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    setCopied(false);
    try {
      const reply = await call<{ token: string; link?: string }>(Invites, "CreateInvite", {
        requestId: newId(),
        schoolId,
        classId: role === "SCHOOL_ROLE_TEACHER" ? "" : klass.classId,
        role,
        childUserId: role === "SCHOOL_ROLE_PARENT" ? childId : "",
        requiresApproval: approval,
        ttlSeconds: 7 * 24 * 3600,
        maxUses: role === "SCHOOL_ROLE_PARENT" ? 2 : 40,
      });
      setLink(`${location.origin}/join/${encodeURIComponent(reply.token)}`);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="invites-title" class="card">
      <h3 id="invites-title">
        {t("invites")}: {klass.title}
      </h3>
      <form class="inline-form" onSubmit={submit}>
        <label for="invite-role">{t("inviteRole")}</label>
        <select id="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
          <option value="SCHOOL_ROLE_STUDENT">{roleName("SCHOOL_ROLE_STUDENT")}</option>
          <option value="SCHOOL_ROLE_PARENT">{roleName("SCHOOL_ROLE_PARENT")}</option>
          {isAdmin && <option value="SCHOOL_ROLE_TEACHER">{roleName("SCHOOL_ROLE_TEACHER")}</option>}
        </select>
        {role === "SCHOOL_ROLE_PARENT" && (
          <>
            <label for="invite-child">{t("inviteChild")}</label>
            <select id="invite-child" required value={childId} onChange={(e) => setChildId(e.currentTarget.value)}>
              <option value="">—</option>
              {students.map((s) => (
                <option key={s.userId} value={s.userId}>
                  {nameOf(s.userId)}
                </option>
              ))}
            </select>
          </>
        )}
        <label class="check">
          <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.currentTarget.checked)} /> {t("inviteApproval")}
        </label>
        <button type="submit">{t("createInvite")}</button>
      </form>
      <ErrorNote error={error} />
      {link && (
        <div class="invite">
          <label for="invite-link">{t("inviteLink")}</label>
          <input id="invite-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
          <button
            type="button"
            class="secondary"
            onClick={() => navigator.clipboard?.writeText(link).then(() => setCopied(true), () => undefined)}
          >
            {copied ? t("copied") : t("copyLink")}
          </button>
          <Qr text={link} label={t("inviteQr", { title: klass.title ?? "" })} />
        </div>
      )}
    </section>
  );
}

function JoinRequestPanel({ schoolId, klass }: { schoolId: string; klass: SchoolClass }) {
  const [requests, setRequests] = useState<JoinRequest[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useSignal(namesVersion);

  const load = () =>
    call<{ joinRequests?: JoinRequest[] }>(JoinRequests, "ListJoinRequests", {
      schoolId,
      classId: klass.classId,
      state: "JOIN_REQUEST_STATE_PENDING",
      page: { pageSize: 100 },
    }).then((reply) => setRequests(reply.joinRequests ?? []), setError);

  useEffect(() => {
    void load();
  }, [klass.classId]);

  async function decide(method: string, id: string) {
    try {
      await call(JoinRequests, method, { joinRequestId: id });
      await load();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="requests-title" class="card">
      <h3 id="requests-title">{t("joinRequests")}</h3>
      <ErrorNote error={error} />
      {requests?.length === 0 && <p class="muted">{t("noJoinRequests")}</p>}
      <ul class="plain">
        {requests?.map((request) => (
          <li key={request.joinRequestId} class="row">
            <span>{t("requestFrom", { name: nameOf(request.userId), role: roleName(request.role) })}</span>
            <button type="button" onClick={() => decide("ApproveJoinRequest", request.joinRequestId)}>
              {t("approve")}
            </button>
            <button type="button" class="secondary" onClick={() => decide("RejectJoinRequest", request.joinRequestId)}>
              {t("reject")}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ClassMembers({ schoolId, klass }: { schoolId: string; klass: SchoolClass }) {
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useSignal(namesVersion);
  useEffect(() => {
    call<{ members?: Member[] }>(Memberships, "ListMembers", { schoolId, classId: klass.classId, page: { pageSize: 200 } }).then(
      (reply) => setMembers(reply.members ?? []),
      setError,
    );
  }, [klass.classId]);
  return (
    <section aria-labelledby="members-title" class="card">
      <h3 id="members-title">{t("members")}</h3>
      <ErrorNote error={error} />
      <ul class="plain">
        {members?.map((m) => (
          <li key={m.membershipId}>
            {nameOf(m.userId)} <span class="muted">— {roleName(m.schoolRole)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function StaffPanel({ schoolId }: { schoolId: string }) {
  const [staff, setStaff] = useState<Member[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useSignal(namesVersion);

  const load = () =>
    call<{ members?: Member[] }>(Memberships, "ListMembers", { schoolId, page: { pageSize: 200 } }).then((reply) => {
      const seen = new Set<string>();
      const people = (reply.members ?? []).filter(
        (m) => (m.schoolRole === "SCHOOL_ROLE_TEACHER" || m.schoolRole === "SCHOOL_ROLE_ADMIN") && !seen.has(m.userId) && seen.add(m.userId),
      );
      setStaff(people);
    }, setError);

  useEffect(() => {
    void load();
  }, [schoolId]);

  async function verify(userId: string) {
    try {
      await call(Schools, "VerifyStaff", { schoolId, userId });
      await load();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="staff-title" class="card">
      <h3 id="staff-title">{t("staff")}</h3>
      <ErrorNote error={error} />
      <ul class="plain">
        {staff?.map((m) => (
          <li key={m.userId} class="row">
            <span>
              {nameOf(m.userId)} <span class="muted">— {roleName(m.schoolRole)}, {m.verified ? t("verified") : t("notVerified")}</span>
            </span>
            {!m.verified && (
              <button type="button" onClick={() => verify(m.userId)}>
                {t("verify_staff")}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
