// A lesson (or call/broadcast) in the browser: camera and microphone through media-signal's grant
// (CreateJoinToken) and its Signal stream over the gateway's WebSocket; media through Janus.
// One RTCPeerConnection publishes (when the grant allows); one per subscription receives.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, openBidi, Rooms, Signal } from "../api";
import { ErrorNote } from "../components/common";
import { t } from "../i18n";
import { nameOf, namesVersion } from "../names";
import { navigate } from "../router";
import { useSignal } from "../signal";

interface Grants {
  canPublish?: boolean;
  isHost?: boolean;
}

interface Participant {
  participantId: string;
  userId: string;
  grants?: Grants;
  status?: string;
  audioMuted?: boolean;
  videoMuted?: boolean;
  handRaised?: boolean;
}

interface Sdp {
  type?: string;
  sdp: string;
  participantId?: string;
  subscriptionId?: string;
}

interface Remote {
  subscriptionId: string;
  participantId: string;
  stream: MediaStream;
}

type SignalMessage = {
  joined?: { state: { room?: { title?: string }; participants?: Participant[]; self?: Participant }; keepaliveTimeoutSeconds?: number };
  waiting?: { self?: Participant };
  participantJoined?: { participant: Participant };
  participantUpdated?: { participant: Participant };
  participantLeft?: { participantId: string };
  offer?: Sdp;
  answer?: Sdp;
  trickle?: { candidate: string; sdpMid?: string; sdpMlineIndex?: number; subscriptionId?: string };
  hostAction?: { action: string; track?: string };
  roomEnded?: { reason?: string };
  error?: { reason?: string; message?: string };
};

export function Lesson({ roomId }: { roomId: string }) {
  useSignal(namesVersion);
  const [title, setTitle] = useState("");
  const [status, setStatus] = useState<"connecting" | "waiting" | "live" | "ended">("connecting");
  const [self, setSelf] = useState<Participant | null>(null);
  const [people, setPeople] = useState<Map<string, Participant>>(new Map());
  const [remotes, setRemotes] = useState<Remote[]>([]);
  const [local, setLocal] = useState<MediaStream | null>(null);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const [hand, setHand] = useState(false);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<unknown>(null);
  const link = useRef<{ send(message: object): void; close(): void } | null>(null);
  const localRef = useRef<MediaStream | null>(null);

  useEffect(() => {
    let closed = false;
    let publisher: RTCPeerConnection | null = null;
    const subscribers = new Map<string, RTCPeerConnection>();
    let iceServers: RTCIceServer[] = [];
    let ping: number | undefined;

    const send = (message: object) => link.current?.send(message);

    const upsert = (participant: Participant) =>
      setPeople((current) => new Map(current).set(participant.participantId, participant));

    async function publish() {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
        if (closed) return stream.getTracks().forEach((track) => track.stop());
        localRef.current = stream;
        setLocal(stream);
        publisher = new RTCPeerConnection({ iceServers });
        stream.getTracks().forEach((track) => publisher!.addTransceiver(track, { direction: "sendonly", streams: [stream] }));
        publisher.onicecandidate = (event) =>
          send({
            trickle: event.candidate
              ? { candidate: event.candidate.candidate, sdpMid: event.candidate.sdpMid ?? "", sdpMlineIndex: event.candidate.sdpMLineIndex ?? 0 }
              : { candidate: "" },
          });
        await publisher.setLocalDescription(await publisher.createOffer());
        send({ requestId: "publish", offer: { type: "SDP_TYPE_OFFER", sdp: publisher.localDescription!.sdp } });
      } catch (e) {
        setError(e);
      }
    }

    async function subscribe(offer: Sdp) {
      const id = offer.subscriptionId ?? "";
      const pc = new RTCPeerConnection({ iceServers });
      subscribers.set(id, pc);
      const stream = new MediaStream();
      pc.ontrack = (event) => {
        stream.addTrack(event.track);
        setRemotes((current) => [...current.filter((r) => r.subscriptionId !== id), { subscriptionId: id, participantId: offer.participantId ?? "", stream }]);
      };
      pc.onicecandidate = (event) =>
        send({
          trickle: event.candidate
            ? {
                candidate: event.candidate.candidate,
                sdpMid: event.candidate.sdpMid ?? "",
                sdpMlineIndex: event.candidate.sdpMLineIndex ?? 0,
                subscriptionId: id,
              }
            : { candidate: "", subscriptionId: id },
        });
      await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ answer: { type: "SDP_TYPE_ANSWER", sdp: pc.localDescription!.sdp, subscriptionId: id } });
    }

    function onMessage(message: SignalMessage) {
      if (message.joined) {
        const state = message.joined.state;
        setTitle(state.room?.title ?? "");
        setStatus("live");
        if (state.self) setSelf(state.self);
        setPeople(new Map((state.participants ?? []).map((p) => [p.participantId, p])));
        const every = Math.max(1, (message.joined.keepaliveTimeoutSeconds || 20) / 3) * 1000;
        ping = window.setInterval(() => send({ ping: { clientTimeMs: String(Date.now()) } }), every);
        if (state.self?.grants?.canPublish) void publish();
      } else if (message.waiting) {
        setStatus("waiting");
        if (message.waiting.self) setSelf(message.waiting.self);
      } else if (message.participantJoined) upsert(message.participantJoined.participant);
      else if (message.participantUpdated) {
        upsert(message.participantUpdated.participant);
        setSelf((current) =>
          current && current.participantId === message.participantUpdated!.participant.participantId ? message.participantUpdated!.participant : current,
        );
      } else if (message.participantLeft) {
        const gone = message.participantLeft.participantId;
        setPeople((current) => {
          const next = new Map(current);
          next.delete(gone);
          return next;
        });
        setRemotes((current) => current.filter((r) => r.participantId !== gone));
      } else if (message.offer) void subscribe(message.offer).catch(setError);
      else if (message.answer) void publisher?.setRemoteDescription({ type: "answer", sdp: message.answer.sdp }).catch(setError);
      else if (message.trickle) {
        const target = message.trickle.subscriptionId ? subscribers.get(message.trickle.subscriptionId) : publisher;
        if (target && message.trickle.candidate)
          void target
            .addIceCandidate({ candidate: message.trickle.candidate, sdpMid: message.trickle.sdpMid, sdpMLineIndex: message.trickle.sdpMlineIndex })
            .catch(() => undefined);
      } else if (message.hostAction) {
        if (message.hostAction.action === "HOST_ACTION_TYPE_MUTE") {
          const audio = message.hostAction.track !== "TRACK_KIND_VIDEO";
          localRef.current?.getTracks().forEach((track) => {
            if ((track.kind === "audio") === audio) track.enabled = false;
          });
          if (audio) setMicOn(false);
          else setCamOn(false);
          setNotice(t("mutedByHost"));
        }
      } else if (message.roomEnded) setStatus("ended");
      else if (message.error) setError(new Error(message.error.message || message.error.reason));
    }

    call<{ token: string; iceServers?: { urls: string[]; username?: string; credential?: string }[] }>(Rooms, "CreateJoinToken", { roomId }).then(
      (grant) => {
        if (closed) return;
        iceServers = (grant.iceServers ?? []).map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined }));
        link.current = openBidi<SignalMessage>(Signal, "Signal", { join: { token: grant.token } }, {
          onMessage,
          onEnd(end) {
            if (end) setError(end);
            setStatus("ended");
          },
        });
      },
      setError,
    );

    return () => {
      closed = true;
      window.clearInterval(ping);
      link.current?.send({ leave: {} });
      link.current?.close();
      publisher?.close();
      subscribers.forEach((pc) => pc.close());
      localRef.current?.getTracks().forEach((track) => track.stop());
    };
  }, [roomId]);

  function toggle(kind: "audio" | "video") {
    const on = kind === "audio" ? !micOn : !camOn;
    localRef.current?.getTracks().forEach((track) => {
      if (track.kind === kind) track.enabled = on;
    });
    if (kind === "audio") setMicOn(on);
    else setCamOn(on);
    link.current?.send({ mute: { track: kind === "audio" ? "TRACK_KIND_AUDIO" : "TRACK_KIND_VIDEO", muted: !on } });
  }

  const isHost = Boolean(self?.grants?.isHost);
  const others = [...people.values()].filter((p) => p.participantId !== self?.participantId);

  return (
    <section class="lesson" aria-labelledby="lesson-title">
      <h1 id="lesson-title">{title || t("lessonTitle")}</h1>
      <ErrorNote error={error} />
      <p role="status" class="muted">
        {status === "connecting" ? t("lessonConnecting") : status === "waiting" ? t("lessonWaiting") : status === "ended" ? t("lessonEnded") : t("lessonLive")}
      </p>
      {notice && (
        <p role="alert" class="held">
          {notice}
        </p>
      )}
      <div class="videos">
        {local && <Video stream={local} label={t("you")} muted mirrored kind="local" />}
        {remotes.map((remote) => {
          const who = people.get(remote.participantId);
          return <Video key={remote.subscriptionId} stream={remote.stream} label={who ? nameOf(who.userId) : "…"} kind="remote" />;
        })}
      </div>
      {status === "live" && (
        <div class="row">
          {local && (
            <>
              <button type="button" class="secondary" aria-pressed={!micOn} onClick={() => toggle("audio")}>
                {micOn ? t("micOff") : t("micOn")}
              </button>
              <button type="button" class="secondary" aria-pressed={!camOn} onClick={() => toggle("video")}>
                {camOn ? t("camOff") : t("camOn")}
              </button>
            </>
          )}
          <button
            type="button"
            class="secondary"
            aria-pressed={hand}
            onClick={() => (link.current?.send({ raiseHand: { raised: !hand } }), setHand(!hand))}
          >
            {hand ? t("lowerHand") : t("raiseHand")}
          </button>
          <button type="button" onClick={() => navigate("/")}>
            {t("leaveLesson")}
          </button>
        </div>
      )}
      <h2>{t("participants")}</h2>
      <ul class="plain participants">
        {others.map((p) => (
          <li key={p.participantId} class="row" data-user-id={p.userId}>
            <span>
              {nameOf(p.userId)}
              {p.handRaised && ` ✋ ${t("handRaised")}`}
              {p.audioMuted && <span class="muted"> · {t("micIsOff")}</span>}
              {p.status === "PARTICIPANT_STATUS_WAITING" && <span class="muted"> · {t("inWaitingRoom")}</span>}
            </span>
            {isHost && p.status === "PARTICIPANT_STATUS_WAITING" && (
              <button type="button" onClick={() => link.current?.send({ hostAction: { action: "HOST_ACTION_TYPE_ADMIT", participantId: p.participantId } })}>
                {t("admit")}
              </button>
            )}
            {isHost && p.status !== "PARTICIPANT_STATUS_WAITING" && !p.audioMuted && (
              <button
                type="button"
                class="secondary"
                onClick={() =>
                  link.current?.send({ hostAction: { action: "HOST_ACTION_TYPE_MUTE", participantId: p.participantId, track: "TRACK_KIND_AUDIO" } })
                }
              >
                {t("muteParticipant", { name: nameOf(p.userId) })}
              </button>
            )}
            {isHost && p.status !== "PARTICIPANT_STATUS_WAITING" && (
              <button
                type="button"
                class="secondary"
                onClick={() => link.current?.send({ hostAction: { action: "HOST_ACTION_TYPE_REMOVE", participantId: p.participantId } })}
              >
                {t("removeParticipant", { name: nameOf(p.userId) })}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Video({ stream, label, muted = false, mirrored = false, kind }: { stream: MediaStream; label: string; muted?: boolean; mirrored?: boolean; kind: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream;
  }, [stream]);
  return (
    <figure class="video">
      <video ref={ref} autoPlay playsInline muted={muted} class={`${kind}${mirrored ? " mirrored" : ""}`} aria-label={label} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}
