// The shell: header with navigation, language switch and sign-out; the screen for the current path
// and session state (sign-in → profile → pending invite → the app).
import { useEffect } from "preact/hooks";
import { signOut } from "./api";
import { chatList } from "./chats";
import { lang, setLang, t } from "./i18n";
import { degraded, startLive, stopLive } from "./live";
import { chatSettings, loadModeratedSchools, moderatedSchools } from "./moderation";
import { match, navigate, path, takeJoin } from "./router";
import { hasRole, loadSession, session } from "./session";
import { useSignal } from "./signal";
import { About } from "./screens/About";
import { ChatList } from "./screens/ChatList";
import { ChatView } from "./screens/ChatView";
import { Children } from "./screens/Children";
import { ExportScreen } from "./components/DataExports";
import { Join } from "./screens/Join";
import { Broadcast } from "./screens/Broadcast";
import { Call } from "./screens/Call";
import { Lesson } from "./screens/Lesson";
import { Materials } from "./screens/Materials";
import { ProfileForm } from "./screens/ProfileForm";
import { Moderation } from "./screens/Moderation";
import { School } from "./screens/School";
import { Settings } from "./screens/Settings";
import { SignIn } from "./screens/SignIn";

export function App() {
  const state = useSignal(session);
  const current = useSignal(path);
  const language = useSignal(lang);
  const liveDegraded = useSignal(degraded);
  const moderated = useSignal(moderatedSchools);

  useEffect(() => {
    document.documentElement.lang = language;
    document.title = t("appName");
  }, [language]);

  useEffect(() => {
    if (state.kind === "ready") {
      startLive();
      void loadModeratedSchools();
      const token = takeJoin();
      if (token) navigate(`/join/${encodeURIComponent(token)}`, true);
      else if (current === "/signin") navigate("/", true);
    } else {
      stopLive();
      if (state.kind === "signedOut") (chatList.set(null), moderatedSchools.set(null), chatSettings.set(null));
    }
  }, [state.kind]);

  const join = match("/join/:token", current);
  let screen;
  if (state.kind === "loading") screen = <p>{t("loading")}</p>;
  else if (join && state.kind !== "needsProfile") screen = <Join token={join.token} />;
  else if (state.kind === "signedOut") screen = <SignIn onSignedIn={(userId) => void loadSession(userId)} />;
  else if (state.kind === "needsProfile") screen = <ProfileForm onCreated={() => void loadSession()} />;
  else screen = routeScreen(current);

  return (
    <>
      <a href="#main" class="skip-link" data-external>
        {t("appName")}: ↓
      </a>
      <header class="top">
        <a href="/" class="brand">
          {t("appName")}
        </a>
        {state.kind === "ready" && (
          <nav aria-label={t("nav")}>
            <a href="/" aria-current={current === "/" || current.startsWith("/chat/") ? "page" : undefined}>
              {t("navChats")}
            </a>
            {(hasRole("SCHOOL_ROLE_ADMIN") || hasRole("SCHOOL_ROLE_TEACHER")) && (
              <a href="/school" aria-current={current === "/school" ? "page" : undefined}>
                {t("navSchool")}
              </a>
            )}
            <a href="/about" aria-current={current === "/about" ? "page" : undefined}>
              {t("navAbout")}
            </a>
            <a href="/materials" aria-current={current === "/materials" ? "page" : undefined}>
              {t("navMaterials")}
            </a>
            {hasRole("SCHOOL_ROLE_PARENT") && (
              <a href="/children" aria-current={current === "/children" ? "page" : undefined}>
                {t("navChildren")}
              </a>
            )}
            {moderated && moderated.length > 0 && (
              <a href="/moderation" aria-current={current === "/moderation" ? "page" : undefined}>
                {t("navModeration")}
              </a>
            )}
            <a href="/settings" aria-current={current === "/settings" ? "page" : undefined}>
              {t("navSettings")}
            </a>
          </nav>
        )}
        <div class="tools">
          {state.kind === "ready" && (
            <span class="who muted">
              {[state.profile.firstName, state.profile.lastName].filter(Boolean).join(" ")}
            </span>
          )}
          <button type="button" class="secondary" lang={language === "ru" ? "en" : "ru"} onClick={() => setLang(language === "ru" ? "en" : "ru")}>
            {t("switchLanguage")}
          </button>
          {(state.kind === "ready" || state.kind === "needsProfile") && (
            <button type="button" class="secondary" onClick={() => void signOut().finally(() => (navigate("/"), void loadSession()))}>
              {t("signOut")}
            </button>
          )}
        </div>
      </header>
      {state.kind === "ready" && liveDegraded && (
        <p class="live-banner" role="status">
          {t("liveDegraded")}
        </p>
      )}
      <main id="main" tabIndex={-1}>
        {screen}
      </main>
    </>
  );
}

function routeScreen(current: string) {
  const chat = match("/chat/:id", current);
  if (chat) return <ChatView key={chat.id} chatId={chat.id} />;
  const lesson = match("/lesson/:id", current);
  if (lesson) return <Lesson key={lesson.id} roomId={lesson.id} />;
  const room = match("/call/:id", current);
  if (room) return <Call key={room.id} roomId={room.id} />;
  const broadcast = match("/broadcast/:id", current);
  if (broadcast) return <Broadcast key={broadcast.id} roomId={broadcast.id} />;
  const dataExport = match("/exports/:id", current);
  if (dataExport) return <ExportScreen key={dataExport.id} exportId={dataExport.id} />;
  if (current === "/moderation") return <Moderation />;
  if (current === "/settings") return <Settings />;
  if (current === "/" || current === "/signin") return <ChatList />;
  if (current === "/school") return <School />;
  if (current === "/children") return <Children />;
  if (current === "/about") return <About />;
  if (current === "/materials") return <Materials />;
  return <p>{t("notFound")}</p>;
}
