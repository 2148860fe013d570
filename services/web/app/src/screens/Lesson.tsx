// A lesson: a class's SFU room (media/Room.tsx does the media).
import { Room } from "../media/Room";

export function Lesson({ roomId }: { roomId: string }) {
  return <Room roomId={roomId} words={{ title: "lessonTitle", live: "lessonLive", waiting: "lessonWaiting", ended: "lessonEnded", leave: "leaveLesson" }} />;
}
