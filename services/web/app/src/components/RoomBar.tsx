// Rooms reachable from a chat: in a class chat its live lessons and live or scheduled broadcasts
// (teachers start a lesson, start or schedule a broadcast, optionally with a waiting room); in a
// direct chat the live call with that person and "call". The rooms themselves are media/Room.tsx.
import { useEffect, useState } from "preact/hooks";
import { call, newId, Rooms } from "../api";
import { t } from "../i18n";
import { navigate } from "../router";
import { hasRole, myUserId } from "../session";
import { ErrorNote, formatTime } from "./common";

interface Room {
  roomId: string;
  kind?: string;
  title?: string;
  state?: string;
  hostUserId?: string;
  invitedUserIds?: string[];
  scheduledFor?: string;
}

const PATHS: Record<string, string> = { ROOM_KIND_LESSON: "lesson", ROOM_KIND_CALL: "call", ROOM_KIND_BROADCAST: "broadcast" };

export function roomPath(room: Room): string {
  return `/${PATHS[room.kind ?? ""] ?? "lesson"}/${encodeURIComponent(room.roomId)}`;
}

/** ListRooms now and every 10 s while the chat is open; `reload` after a change of one's own. */
function useRooms(query: object, key: string): [Room[], () => void] {
  const [rooms, setRooms] = useState<Room[]>([]);
  const [round, setRound] = useState(0);
  useEffect(() => {
    const load = () =>
      call<{ rooms?: Room[] }>(Rooms, "ListRooms", query).then(
        (reply) => setRooms(reply.rooms ?? []),
        () => setRooms([]),
      );
    void load();
    const timer = window.setInterval(load, 10_000);
    return () => window.clearInterval(timer);
  }, [key, round]);
  return [rooms, () => setRound((n) => n + 1)];
}

async function create(body: object): Promise<Room> {
  const reply = await call<{ room: Room }>(Rooms, "CreateRoom", { requestId: newId(), ...body });
  return reply.room;
}

/** A class chat's lessons and broadcasts (the parents' chat: broadcasts only, e.g. a parents' meeting). */
export function ClassRooms({ schoolId, classId, title, lessons }: { schoolId: string; classId: string; title: string; lessons: boolean }) {
  const [rooms, reload] = useRooms(
    { schoolId, classId, kinds: ["ROOM_KIND_LESSON", "ROOM_KIND_BROADCAST"], states: ["ROOM_STATE_LIVE", "ROOM_STATE_SCHEDULED"] },
    classId,
  );
  const [error, setError] = useState<unknown>(null);
  const [waitingRoom, setWaitingRoom] = useState(false);
  const [when, setWhen] = useState("");
  const teaches = hasRole("SCHOOL_ROLE_TEACHER") || hasRole("SCHOOL_ROLE_ADMIN");
  const me = myUserId();

  async function act(work: () => Promise<Room | null>) {
    setError(null);
    try {
      const room = await work();
      if (room) navigate(roomPath(room));
    } catch (e) {
      setError(e);
    }
  }

  const start = (kind: string) => act(() => create({ schoolId, classId, kind, title, waitingRoom, startNow: true }));
  const schedule = () =>
    act(async () => {
      if (!when) throw new Error(t("pickTime"));
      await create({ schoolId, classId, kind: "ROOM_KIND_BROADCAST", title, waitingRoom, scheduledFor: new Date(when).toISOString() });
      reload();
      return null;
    });

  return (
    <div class="lessons">
      <div class="row">
        {rooms.map((room) =>
          room.state === "ROOM_STATE_LIVE" ? (
            <a key={room.roomId} class="button" href={roomPath(room)}>
              {t(room.kind === "ROOM_KIND_BROADCAST" ? "joinBroadcast" : "joinLesson", { title: room.title ?? "" })}
            </a>
          ) : room.kind === "ROOM_KIND_BROADCAST" ? (
            <span key={room.roomId} class="row">
              <span class="muted">{t("broadcastScheduled", { title: room.title ?? "", when: room.scheduledFor ? formatTime(room.scheduledFor) : "" })}</span>
              {room.hostUserId === me && (
                <button
                  type="button"
                  class="secondary"
                  onClick={() => act(async () => (await call<{ room: Room }>(Rooms, "StartRoom", { roomId: room.roomId })).room)}
                >
                  {t("startBroadcastNow")}
                </button>
              )}
            </span>
          ) : null,
        )}
      </div>
      {teaches && (
        <div class="row">
          {lessons && (
            <button type="button" class="secondary" onClick={() => start("ROOM_KIND_LESSON")}>
              {t("startLesson")}
            </button>
          )}
          <button type="button" class="secondary" onClick={() => start("ROOM_KIND_BROADCAST")}>
            {t("startBroadcast")}
          </button>
          <label>
            <input type="checkbox" checked={waitingRoom} onChange={(e) => setWaitingRoom((e.target as HTMLInputElement).checked)} /> {t("withWaitingRoom")}
          </label>
          <label>
            {t("broadcastTime")} <input type="datetime-local" value={when} onInput={(e) => setWhen((e.target as HTMLInputElement).value)} />
          </label>
          <button type="button" class="secondary" onClick={schedule}>
            {t("scheduleBroadcast")}
          </button>
        </div>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

/** A direct chat's call: join the live one with this person, or start one. */
export function Calls({ schoolId, peerUserId }: { schoolId: string; peerUserId: string }) {
  const me = myUserId();
  const [live] = useRooms({ schoolId, kinds: ["ROOM_KIND_CALL"], states: ["ROOM_STATE_LIVE"] }, peerUserId);
  const rooms = live.filter((room) => {
    const people = new Set([room.hostUserId, ...(room.invitedUserIds ?? [])]);
    return people.size === 2 && people.has(me) && people.has(peerUserId);
  });
  const [error, setError] = useState<unknown>(null);

  async function start() {
    setError(null);
    try {
      navigate(roomPath(await create({ schoolId, kind: "ROOM_KIND_CALL", title: t("callTitle"), invitedUserIds: [peerUserId], startNow: true })));
    } catch (e) {
      setError(e);
    }
  }

  return (
    <div class="lessons row">
      {rooms.map((room) => (
        <a key={room.roomId} class="button" href={roomPath(room)}>
          {t("joinCall")}
        </a>
      ))}
      <button type="button" class="secondary" onClick={start}>
        {t("startCall")}
      </button>
      <ErrorNote error={error} />
    </div>
  );
}
