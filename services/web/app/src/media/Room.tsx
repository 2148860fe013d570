// The one module for a room in the browser — lessons, calls and broadcasts (the screens in
// screens/Lesson.tsx, Call.tsx, Broadcast.tsx only name the noun): camera and microphone through
// media-signal's grant (CreateJoinToken) and its Signal stream over the gateway's WebSocket.
// SFU rooms (lessons, broadcasts): one RTCPeerConnection publishes to Janus (when the grant allows,
// or once the host brings a viewer on stage); one per subscription receives.
// P2P rooms (calls): one RTCPeerConnection per other participant; the newcomer offers to everyone
// already there (so two peers never offer to each other at once), the server relays by participant_id.
import { useEffect, useRef, useState } from "preact/hooks";
import { call, openBidi, Rooms, Signal } from "../api";
import { ErrorNote } from "../components/common";
import { t, type Key } from "../i18n";
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
  joined?: {
    state: { room?: { title?: string; mediaMode?: string }; participants?: Participant[]; self?: Participant };
    keepaliveTimeoutSeconds?: number;
  };
  waiting?: { self?: Participant };
  participantJoined?: { participant: Participant };
  participantUpdated?: { participant: Participant };
  participantLeft?: { participantId: string };
  offer?: Sdp;
  answer?: Sdp;
  trickle?: { candidate: string; sdpMid?: string; sdpMlineIndex?: number; subscriptionId?: string; participantId?: string };
  hostAction?: { action: string; track?: string };
  roomEnded?: { reason?: string };
  error?: { reason?: string; message?: string };
};

/** The words that differ between a lesson, a call and a broadcast. */
export interface RoomWords {
  title: Key;
  live: Key;
  waiting: Key;
  ended: Key;
  leave: Key;
}

const ACTIVE = "PARTICIPANT_STATUS_ACTIVE";

export function Room({ roomId, words }: { roomId: string; words: RoomWords }) {
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
    const peers = new Map<string, RTCPeerConnection>(); // P2P: participant id → connection
    let iceServers: RTCIceServer[] = [];
    let ping: number | undefined;
    let p2p = false;
    let publishing = false;
    let camera: Promise<MediaStream> | null = null;
    let selfId = "";
    // P2P: a peer's candidates that arrive before its description is set (we may still be opening
    // the camera), applied once it is.
    const early = new Map<string, RTCIceCandidateInit[]>();
    const flush = (participantId: string, pc: RTCPeerConnection) => {
      for (const candidate of early.get(participantId) ?? []) void pc.addIceCandidate(candidate).catch(() => undefined);
      early.delete(participantId);
    };

    const send = (message: object) => link.current?.send(message);

    const upsert = (participant: Participant) =>
      setPeople((current) => new Map(current).set(participant.participantId, participant));

    const keepAlive = (seconds: number | undefined) => {
      window.clearInterval(ping);
      const every = Math.max(1, (seconds || 20) / 3) * 1000;
      ping = window.setInterval(() => send({ ping: { clientTimeMs: String(Date.now()) } }), every);
    };

    /** The camera and microphone, asked for once. */
    function localStream(): Promise<MediaStream> {
      camera ??= navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } }).then((stream) => {
        if (closed) stream.getTracks().forEach((track) => track.stop());
        localRef.current = stream;
        setLocal(stream);
        return stream;
      });
      return camera;
    }

    function receive(pc: RTCPeerConnection, key: string, participantId: string) {
      const stream = new MediaStream();
      pc.ontrack = (event) => {
        stream.addTrack(event.track);
        setRemotes((current) => [...current.filter((r) => r.subscriptionId !== key), { subscriptionId: key, participantId, stream }]);
      };
    }

    /** A call's connection to one other participant (P2P), sending our tracks and receiving theirs. */
    async function peer(participantId: string): Promise<RTCPeerConnection> {
      const stream = await localStream();
      peers.get(participantId)?.close();
      const pc = new RTCPeerConnection({ iceServers });
      peers.set(participantId, pc);
      stream.getTracks().forEach((track) => pc.addTrack(track, stream));
      receive(pc, `peer:${participantId}`, participantId);
      pc.onicecandidate = (event) =>
        send({
          trickle: event.candidate
            ? { candidate: event.candidate.candidate, sdpMid: event.candidate.sdpMid ?? "", sdpMlineIndex: event.candidate.sdpMLineIndex ?? 0, participantId }
            : { candidate: "", participantId },
        });
      return pc;
    }

    async function offerTo(participantId: string) {
      const pc = await peer(participantId);
      await pc.setLocalDescription(await pc.createOffer());
      send({ offer: { type: "SDP_TYPE_OFFER", sdp: pc.localDescription!.sdp, participantId } });
    }

    async function answerPeer(offer: Sdp) {
      const participantId = offer.participantId ?? "";
      const pc = await peer(participantId);
      await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
      flush(participantId, pc);
      await pc.setLocalDescription(await pc.createAnswer());
      send({ answer: { type: "SDP_TYPE_ANSWER", sdp: pc.localDescription!.sdp, participantId } });
    }

    async function publish() {
      if (publishing) return;
      publishing = true;
      try {
        const stream = await localStream();
        if (closed) return;
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
      receive(pc, id, offer.participantId ?? "");
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
        selfId = state.self?.participantId ?? "";
        setPeople(new Map((state.participants ?? []).map((p) => [p.participantId, p])));
        keepAlive(message.joined.keepaliveTimeoutSeconds);
        p2p = state.room?.mediaMode === "MEDIA_MODE_P2P";
        if (p2p) {
          for (const other of state.participants ?? [])
            if (other.participantId !== selfId && other.status === ACTIVE) void offerTo(other.participantId).catch(setError);
        } else if (state.self?.grants?.canPublish) void publish();
      } else if (message.waiting) {
        setStatus("waiting");
        if (message.waiting.self) setSelf(message.waiting.self);
        keepAlive(undefined); // the waiting room takes pings too
      } else if (message.participantJoined) upsert(message.participantJoined.participant);
      else if (message.participantUpdated) {
        const updated = message.participantUpdated.participant;
        upsert(updated);
        if (updated.participantId === selfId) {
          setSelf(updated);
          // Brought on stage by the host: start publishing now.
          if (!p2p && updated.grants?.canPublish) void publish();
        }
      } else if (message.participantLeft) {
        const gone = message.participantLeft.participantId;
        peers.get(gone)?.close();
        peers.delete(gone);
        setPeople((current) => {
          const next = new Map(current);
          next.delete(gone);
          return next;
        });
        setRemotes((current) => current.filter((r) => r.participantId !== gone));
      } else if (message.offer) void (p2p ? answerPeer(message.offer) : subscribe(message.offer)).catch(setError);
      else if (message.answer) {
        const from = message.answer.participantId ?? "";
        const target = p2p ? peers.get(from) : publisher;
        void target
          ?.setRemoteDescription({ type: "answer", sdp: message.answer.sdp })
          .then(() => p2p && flush(from, target))
          .catch(setError);
      } else if (message.trickle && p2p && message.trickle.candidate && !peers.get(message.trickle.participantId ?? "")?.remoteDescription) {
        const from = message.trickle.participantId ?? "";
        const { candidate, sdpMid, sdpMlineIndex } = message.trickle;
        early.set(from, [...(early.get(from) ?? []), { candidate, sdpMid, sdpMLineIndex: sdpMlineIndex }]);
      } else if (message.trickle) {
        const target = p2p
          ? peers.get(message.trickle.participantId ?? "")
          : message.trickle.subscriptionId
            ? subscribers.get(message.trickle.subscriptionId)
            : publisher;
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
      peers.forEach((pc) => pc.close());
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
      <h1 id="lesson-title">{title || t(words.title)}</h1>
      <ErrorNote error={error} />
      <p role="status" class="muted">
        {status === "connecting" ? t("lessonConnecting") : status === "waiting" ? t(words.waiting) : status === "ended" ? t(words.ended) : t(words.live)}
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
            {t(words.leave)}
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
            {isHost && p.status !== "PARTICIPANT_STATUS_WAITING" && !p.grants?.canPublish && (
              <button type="button" onClick={() => link.current?.send({ hostAction: { action: "HOST_ACTION_TYPE_PROMOTE", participantId: p.participantId } })}>
                {t("bringOnStage", { name: nameOf(p.userId) })}
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
