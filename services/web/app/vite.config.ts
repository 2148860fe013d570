// Builds the app into dist/, which the web gateway (services/web) serves. No inline script or style
// ends up in index.html (the gateway's CSP forbids them): Vite emits one module script and one
// stylesheet as files, and the module-preload polyfill (an inline snippet) is switched off.
import { defineConfig } from "vite";

const gateway = (process.env.PARTA_WEB_URL ?? "http://127.0.0.1:25080").replace(/\/$/, "");

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npx vite` for development: API calls go to a running gateway (make run's, on 25080, unless
    // PARTA_WEB_URL says otherwise), as if the page came from it: Host and Origin are the gateway's,
    // so its same-origin check (WEB_PUBLIC_ORIGINS) accepts them.
    proxy: { "/api": { target: gateway, ws: true, changeOrigin: true, headers: { Origin: gateway } } },
  },
});
