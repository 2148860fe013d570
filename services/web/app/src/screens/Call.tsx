// A call started from a direct chat: a peer-to-peer room (media/Room.tsx does the media).
import { Room } from "../media/Room";

export function Call({ roomId }: { roomId: string }) {
  return <Room roomId={roomId} words={{ title: "callTitle", live: "callLive", waiting: "roomWaiting", ended: "callEnded", leave: "leaveCall" }} />;
}
