// My chats with unread counts, kept current by the live connection.
import { useEffect, useState } from "preact/hooks";
import { ErrorNote } from "../components/common";
import { chatList, chatTitle, kindName, refreshChats } from "../chats";
import { t } from "../i18n";
import { namesVersion } from "../names";
import { useSignal } from "../signal";

export function ChatList() {
  const chats = useSignal(chatList);
  useSignal(namesVersion);
  const [error, setError] = useState<unknown>(null);

  // Live events refresh the list (chats.ts); a slow poll also catches chats whose membership
  // arrived while the socket was reconnecting.
  useEffect(() => {
    refreshChats().then(() => setError(null), setError);
    const timer = window.setInterval(() => refreshChats().catch(() => undefined), 15_000);
    return () => window.clearInterval(timer);
  }, []);

  return (
    <section aria-labelledby="chats-title">
      <h1 id="chats-title">{t("chatsTitle")}</h1>
      <ErrorNote error={error} />
      {chats === null && !error && <p>{t("loading")}</p>}
      {chats?.length === 0 && <p>{t("noChats")}</p>}
      <ul class="chat-list">
        {chats?.map((view) => {
          const unread = view.unreadCount ?? 0;
          return (
            <li key={view.chat.chatId}>
              <a href={`/chat/${encodeURIComponent(view.chat.chatId)}`} class="chat-link" data-chat-id={view.chat.chatId}>
                <span class="chat-title">{chatTitle(view)}</span>
                <span class="chat-kind muted">{kindName(view.chat.kind)}</span>
                {unread > 0 && (
                  <span class="badge" aria-label={t("unread", { count: unread })}>
                    {unread}
                  </span>
                )}
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
