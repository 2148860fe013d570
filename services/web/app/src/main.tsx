import { render } from "preact";
import { App } from "./App";
import { navigate } from "./router";
import { loadSession, session } from "./session";
import "./style.css";

// Same-origin links navigate inside the app (no reload); files and new tabs are left alone.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest("a");
  if (!anchor || anchor.hasAttribute("data-external") || anchor.target || anchor.origin !== location.origin) return;
  event.preventDefault();
  navigate(anchor.pathname);
  document.getElementById("main")?.focus();
});

render(<App />, document.getElementById("app")!);
loadSession().catch(() => session.set({ kind: "signedOut" }));
