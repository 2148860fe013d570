// A broadcast (e.g. a parents' meeting): the host and presenters on stage, the audience watches
// until the host brings someone on stage (media/Room.tsx does the media).
import { Room } from "../media/Room";

export function Broadcast({ roomId }: { roomId: string }) {
  return (
    <Room roomId={roomId} words={{ title: "broadcastTitle", live: "broadcastLive", waiting: "roomWaiting", ended: "broadcastEnded", leave: "leaveBroadcast" }} />
  );
}
