// One chat: history with paging, live updates, send / reply / edit / delete / react, read counts
// for the author, the quiet-hours notice, files (upload with progress, download, image preview).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, call, Chats, fileHead, fileUrl, Files, newId, upload, type FileInfo } from "../api";
import { ErrorNote, formatTime } from "../components/common";
import { Calls, ClassRooms } from "../components/RoomBar";
import { useVoice, voiceCard, VoiceBar } from "../components/Voice";
import { chatList, chatTitle, refreshChats, scheduleRefresh, type ChatView as View } from "../chats";
import { t } from "../i18n";
import { BlockToggle, mayMarkUrgent, ReportButton, UrgentFields, type Urgency } from "../components/ChatSafety";
import { onChatEvent, type MessageSnapshot } from "../live";
import { knownName, nameOf, namesVersion } from "../names";
import { myUserId } from "../session";
import { useSignal } from "../signal";

const EMOJI = ["👍", "❤️", "😂", "🙏"];
const PAGE = 30;

type Messages = Map<number, MessageSnapshot>;

function merge(into: Messages, incoming: MessageSnapshot[]): Messages {
  const next = new Map(into);
  for (const message of incoming) {
    const seq = Number(message.seq);
    const have = next.get(seq);
    if (!have || Number(message.updateSeq ?? 0) >= Number(have.updateSeq ?? 0)) next.set(seq, message);
  }
  return next;
}

/** A system message in the reader's language; the Russian body for kinds this app does not know. */
function systemText(message: MessageSnapshot): string {
  const note = message.systemNote;
  switch (note?.kind) {
    case "SYSTEM_KIND_MEMBER_JOINED": {
      // The name as it is now if identity shows it to me, else the one written into the note.
      const name = (note.subjectUserId && knownName(note.subjectUserId)) || note.subjectName;
      return name ? t("sysJoined", { name }) : t("sysJoinedUnknown");
    }
    case "SYSTEM_KIND_LESSON_STARTED":
      return note.title ? t("sysLessonStarted", { title: note.title }) : t("sysLessonStartedUntitled");
    case "SYSTEM_KIND_LESSON_ENDED":
      return t("sysLessonEnded", { count: note.count ?? 0 });
    case "SYSTEM_KIND_MATERIAL_PUBLISHED":
      return note.title ? t("sysMaterialPublished", { title: note.title }) : t("sysMaterialPublishedUntitled");
    default:
      return message.text ?? "";
  }
}

export function ChatView({ chatId }: { chatId: string }) {
  const chats = useSignal(chatList);
  useSignal(namesVersion);
  const me = myUserId();
  const view: View | undefined = chats?.find((c) => c.chat.chatId === chatId);
  const [messages, setMessages] = useState<Messages>(new Map());
  const [hasMore, setHasMore] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Not a member (any more), or no such chat: say so once, without a composer to type into.
  const [noAccess, setNoAccess] = useState(false);
  const [replyTo, setReplyTo] = useState<MessageSnapshot | null>(null);
  const [editing, setEditing] = useState<MessageSnapshot | null>(null);
  const [heldNotice, setHeldNotice] = useState<string | null>(null);
  const [readCounts, setReadCounts] = useState<Map<number, string>>(new Map());
  const shownCounts = useRef<Set<number>>(new Set());
  const lastMarked = useRef(0);
  const listEnd = useRef<HTMLDivElement>(null);
  const voice = useVoice(chatId, view);

  useEffect(() => {
    if (!chats) refreshChats().catch(setError);
  }, []);

  useEffect(() => {
    let cancelled = false;
    setMessages(new Map());
    setLoaded(false);
    setNoAccess(false);
    call<{ messages?: MessageSnapshot[]; hasMore?: boolean }>(Chats, "ListMessages", { chatId, limit: PAGE }).then(
      (reply) => {
        if (cancelled) return;
        setMessages((current) => merge(current, reply.messages ?? []));
        setHasMore(Boolean(reply.hasMore));
        setLoaded(true);
      },
      (e: unknown) => {
        if (cancelled) return;
        if (e instanceof ApiError && (e.code === "PERMISSION_DENIED" || e.code === "NOT_FOUND")) setNoAccess(true);
        else setError(e);
      },
    );
    const unsubscribe = onChatEvent((event) => {
      if (event.chatId !== chatId) return;
      if (event.message) setMessages((current) => merge(current, [event.message!]));
      // A read position moved: the counts on show are fetched again (never blanked: a count the
      // reader asked for stays on screen, and an event arriving after its answer must not hide it).
      if (event.read) for (const seq of shownCounts.current) void showReadCount(seq);
    });
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [chatId]);

  const ordered = useMemo(() => [...messages.values()].sort((a, b) => Number(a.seq) - Number(b.seq)), [messages]);
  const newest = ordered.length ? Number(ordered[ordered.length - 1].seq) : 0;

  // Mark read up to the newest message shown; keep the newest in view.
  useEffect(() => {
    if (!loaded) return;
    listEnd.current?.scrollIntoView({ block: "end" });
    if (newest > lastMarked.current) {
      lastMarked.current = newest;
      call(Chats, "MarkRead", { chatId, seq: String(newest) }).then(() => scheduleRefresh(), () => undefined);
    }
  }, [newest, loaded]);

  async function loadEarlier() {
    const oldest = ordered.length ? Number(ordered[0].seq) : 0;
    try {
      const reply = await call<{ messages?: MessageSnapshot[]; hasMore?: boolean }>(Chats, "ListMessages", {
        chatId,
        beforeSeq: String(oldest),
        limit: PAGE,
      });
      setMessages((current) => merge(current, reply.messages ?? []));
      setHasMore(Boolean(reply.hasMore));
    } catch (e) {
      setError(e);
    }
  }

  async function act(method: string, body: object) {
    setError(null);
    try {
      const reply = await call<{ message?: MessageSnapshot }>(Chats, method, { chatId, ...body });
      if (reply.message) setMessages((current) => merge(current, [reply.message!]));
    } catch (e) {
      setError(e);
    }
  }

  // The author or a moderator takes one file off a message (FileService.RemoveAttachment).
  async function removeFile(seq: number, fileId: string) {
    if (!window.confirm(t("removeFileConfirm"))) return;
    setError(null);
    try {
      const reply = await call<{ message?: MessageSnapshot }>(Files, "RemoveAttachment", { chatId, seq: String(seq), fileId });
      if (reply.message) setMessages((current) => merge(current, [reply.message!]));
    } catch (e) {
      setError(e);
    }
  }

  async function showReadCount(seq: number) {
    shownCounts.current.add(seq);
    try {
      const reply = await call<{ readCount?: number; memberCount?: number }>(Chats, "GetReadCount", { chatId, seq: String(seq) });
      setReadCounts((current) => new Map(current).set(seq, t("readBy", { read: reply.readCount ?? 0, members: reply.memberCount ?? 0 })));
    } catch (e) {
      setError(e);
    }
  }

  const bySeq = (seq: string | undefined) => (seq ? messages.get(Number(seq)) : undefined);
  const title = view ? chatTitle(view) : "";

  if (noAccess) {
    return (
      <section class="chat" aria-labelledby="chat-title">
        <header class="chat-header">
          <a href="/" class="back">
            {t("backToChats")}
          </a>
          <h1 id="chat-title">{title || t("errorTitle")}</h1>
        </header>
        <p class="error" role="alert">
          {t("chatNoAccess")}
        </p>
      </section>
    );
  }

  return (
    <section class="chat" aria-labelledby="chat-title">
      <header class="chat-header">
        <a href="/" class="back">
          {t("backToChats")}
        </a>
        <h1 id="chat-title">{title || "…"}</h1>
      </header>
      <ErrorNote error={error} />
      {(view?.chat.kind === "CHAT_KIND_CLASS" || view?.chat.kind === "CHAT_KIND_CLASS_PARENTS") && view.chat.classId && view.chat.schoolId && (
        <ClassRooms schoolId={view.chat.schoolId} classId={view.chat.classId} title={title} lessons={view.chat.kind === "CHAT_KIND_CLASS"} />
      )}
      <VoiceBar voice={voice} view={view} onMessage={(message) => setMessages((current) => merge(current, [message]))} />
      {view?.chat.kind === "CHAT_KIND_DIRECT" && view.peerUserId && view.chat.schoolId && <Calls schoolId={view.chat.schoolId} peerUserId={view.peerUserId} />}
      {view?.chat.kind === "CHAT_KIND_DIRECT" && view.peerUserId && <BlockToggle peerUserId={view.peerUserId} />}
      {hasMore && (
        <button type="button" class="link" onClick={loadEarlier}>
          {t("loadEarlier")}
        </button>
      )}
      {loaded && ordered.length === 0 && <p class="muted">{t("noMessages")}</p>}
      <ol class="messages" aria-live="polite" aria-relevant="additions">
        {ordered.map((message) => {
          const seq = Number(message.seq);
          const mine = message.senderUserId === me;
          const quoted = bySeq(message.replyToSeq);
          return (
            <li key={seq} class={`message${mine ? " mine" : ""}${message.system ? " system" : ""}`} data-seq={seq}>
              <div class="meta">
                <span class="sender">{message.system ? t("system") : mine ? t("you") : nameOf(message.senderUserId ?? "")}</span>
                <time dateTime={message.sentAt}>{formatTime(message.sentAt)}</time>
                {message.editedAt && !message.deleted && <span class="muted"> · {t("edited")}</span>}
              </div>
              {quoted && <blockquote class="quote">{quoted.deleted ? t("deleted") : quoted.text}</blockquote>}
              {message.deleted ? (
                <p class="text muted">{t("deleted")}</p>
              ) : (
                voiceCard(voice, message, view) ?? <p class="text">{message.system ? systemText(message) : message.text}</p>
              )}
              {!message.deleted && message.systemNote?.kind === "SYSTEM_KIND_MATERIAL_PUBLISHED" && (
                <p class="text">
                  <a href="/materials">{t("sysMaterialOpen")}</a>
                </p>
              )}
              {!message.deleted &&
                (message.fileIds ?? []).map((id) => (
                  <Attachment key={id} fileId={id} onRemove={mine || view?.isModerator ? () => removeFile(seq, id) : undefined} />
                ))}
              {!message.deleted &&
                (message.removedFileIds ?? []).map((id) => (
                  <p key={id} class="text muted file-removed" data-file-id={id}>
                    {t("fileRemoved")}
                  </p>
                ))}
              {message.urgent && !message.deleted && (
                <p class="urgent">{message.urgentReason ? t("urgentMark", { reason: message.urgentReason }) : t("urgentMarkBare")}</p>
              )}
              {mine && message.heldUntil && new Date(message.heldUntil) > new Date() && (
                <p class="held" role="note">
                  {t("heldUntil", { time: formatTime(message.heldUntil) })}
                </p>
              )}
              {!message.deleted && !message.system && (
                <div class="reactions">
                  {EMOJI.map((emoji) => {
                    const users = message.reactions?.find((r) => r.emoji === emoji)?.userIds ?? [];
                    const minePressed = users.includes(me);
                    return (
                      <button
                        type="button"
                        key={emoji}
                        class={`reaction${minePressed ? " pressed" : ""}`}
                        aria-pressed={minePressed}
                        onClick={() => act("ReactToMessage", { seq: String(seq), emoji, add: !minePressed })}
                      >
                        <span class="visually-hidden">{`${t("reaction")} `}</span>
                        {emoji}
                        {users.length > 0 && <span class="count">{users.length}</span>}
                      </button>
                    );
                  })}
                  <button type="button" class="link" onClick={() => (setReplyTo(message), setEditing(null))}>
                    {t("reply")}
                  </button>
                  {mine && (
                    <button type="button" class="link" onClick={() => (setEditing(message), setReplyTo(null))}>
                      {t("edit")}
                    </button>
                  )}
                  {(mine || view?.isModerator) && (
                    <button type="button" class="link" onClick={() => window.confirm(t("deleteConfirm")) && act("DeleteMessage", { seq: String(seq) })}>
                      {t("delete")}
                    </button>
                  )}
                  {!mine && <ReportButton chatId={chatId} seq={seq} />}
                  {mine && (
                    <button type="button" class="link read-count" onClick={() => showReadCount(seq)}>
                      {readCounts.get(seq) ?? t("readCount")}
                    </button>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      <div ref={listEnd} />
      {heldNotice && (
        <p class="held" role="status">
          {heldNotice}
        </p>
      )}
      {view && view.canPost === false ? (
        <p class="muted">{t("cannotPost")}</p>
      ) : (
        <Composer
          key={editing ? `edit-${editing.seq}` : "new"}
          chatId={chatId}
          replyTo={replyTo}
          editing={editing}
          urgentOption={mayMarkUrgent(view)}
          onDone={(message, deliverAt) => {
            if (message) setMessages((current) => merge(current, [message]));
            setHeldNotice(deliverAt ? t("heldNotice", { time: formatTime(deliverAt) }) : null);
            setReplyTo(null);
            setEditing(null);
          }}
          onCancel={() => (setReplyTo(null), setEditing(null))}
          onError={setError}
        />
      )}
    </section>
  );
}

interface ComposerProps {
  chatId: string;
  replyTo: MessageSnapshot | null;
  editing: MessageSnapshot | null;
  urgentOption: boolean;
  onDone(message: MessageSnapshot | undefined, deliverAt: string | undefined): void;
  onCancel(): void;
  onError(error: unknown): void;
}

function Composer({ chatId, replyTo, editing, urgentOption, onDone, onCancel, onError }: ComposerProps) {
  const [text, setText] = useState(editing?.text ?? "");
  const [urgency, setUrgency] = useState<Urgency>({ on: false, reason: "" });
  const [files, setFiles] = useState<FileInfo[]>([]);
  const [progress, setProgress] = useState<{ name: string; fraction: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const clientMessageId = useRef(newId());

  useEffect(() => {
    if (replyTo || editing) input.current?.focus();
  }, [replyTo, editing]);

  async function submit(event?: Event) {
    event?.preventDefault();
    if (!text.trim() && files.length === 0) return;
    setBusy(true);
    try {
      if (editing) {
        const reply = await call<{ message?: MessageSnapshot }>(Chats, "EditMessage", { chatId, seq: editing.seq, text });
        onDone(reply.message, undefined);
      } else {
        const reply = await call<{ message?: MessageSnapshot; deliverAt?: string }>(Chats, "SendMessage", {
          chatId,
          clientMessageId: clientMessageId.current,
          text,
          replyToSeq: replyTo ? replyTo.seq : "0",
          fileIds: files.map((f) => f.fileId),
          ...(urgency.on ? { urgent: true, urgentReason: urgency.reason.trim() } : {}),
        });
        onDone(reply.message, reply.deliverAt);
      }
      clientMessageId.current = newId();
      setText("");
      setFiles([]);
      setUrgency({ on: false, reason: "" });
      input.current?.focus();
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  }

  async function attach(event: Event) {
    const picker = event.currentTarget as HTMLInputElement;
    const chosen = [...(picker.files ?? [])];
    picker.value = "";
    for (const file of chosen) {
      setProgress({ name: file.name, fraction: 0 });
      try {
        const info = await upload(file, (fraction) => setProgress({ name: file.name, fraction }));
        setFiles((current) => [...current, { ...info, filename: info.filename || file.name }]);
      } catch (e) {
        onError(e);
      } finally {
        setProgress(null);
      }
    }
  }

  return (
    <form class="composer" onSubmit={submit}>
      {replyTo && (
        <p class="context">
          {t("replyingTo", { text: (replyTo.text ?? "").slice(0, 80) })}{" "}
          <button type="button" class="link" onClick={onCancel}>
            {t("cancelReply")}
          </button>
        </p>
      )}
      {editing && (
        <p class="context">
          {t("editing")}{" "}
          <button type="button" class="link" onClick={onCancel}>
            {t("cancelEdit")}
          </button>
        </p>
      )}
      {progress && (
        <p class="upload" role="status">
          <label for="upload-progress">{t("uploading", { name: progress.name, percent: Math.round(progress.fraction * 100) })}</label>
          <progress id="upload-progress" max={1} value={progress.fraction} />
        </p>
      )}
      {files.map((file) => (
        <p class="attached" key={file.fileId}>
          {t("attached", { name: file.filename ?? file.fileId })}{" "}
          <button
            type="button"
            class="link"
            aria-label={t("removeAttachment", { name: file.filename ?? file.fileId })}
            onClick={() => setFiles((current) => current.filter((f) => f.fileId !== file.fileId))}
          >
            ✕
          </button>
        </p>
      ))}
      {urgentOption && !editing && <UrgentFields value={urgency} onChange={setUrgency} />}
      <div class="composer-row">
        <label for="message-text" class="visually-hidden">
          {t("messageLabel")}
        </label>
        <textarea
          id="message-text"
          ref={input}
          rows={2}
          value={text}
          placeholder={t("messageLabel")}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        {!editing && (
          <>
            <label for="attach" class="button secondary">
              {t("attach")}
            </label>
            <input id="attach" type="file" class="visually-hidden" multiple onChange={attach} />
          </>
        )}
        <button type="submit" disabled={busy || progress !== null}>
          {editing ? t("save") : t("send")}
        </button>
      </div>
    </form>
  );
}

function Attachment({ fileId, onRemove }: { fileId: string; onRemove?: () => void }) {
  const [info, setInfo] = useState<{ filename: string; contentType: string } | null>(null);
  useEffect(() => {
    fileHead(fileId).then(setInfo, () => setInfo({ filename: fileId, contentType: "" }));
  }, [fileId]);
  const name = info?.filename ?? "…";
  return (
    <div class="attachment">
      {info?.contentType.startsWith("image/") && (
        <a href={fileUrl(fileId)} target="_blank" rel="noopener" data-external>
          <img src={fileUrl(fileId)} alt={t("imageAlt", { name })} class="preview" loading="lazy" />
        </a>
      )}
      <a href={fileUrl(fileId)} download={name} class="file-link" data-external>
        {t("download", { name })}
      </a>
      {onRemove && (
        <button type="button" class="link" onClick={onRemove}>
          {t("removeFile", { name })}
        </button>
      )}
    </div>
  );
}
