// Builds the app into dist/, which the web gateway (services/web) serves. No inline script or style
// ends up in index.html (the gateway's CSP forbids them): Vite emits one module script and one
// stylesheet as files, and the module-preload polyfill (an inline snippet) is switched off.
import { defineConfig } from "vite";

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
    // `npx vite` for development: API calls go to a running gateway (make run prints its port).
    proxy: { "/api": { target: process.env.PARTA_WEB_URL ?? "http://127.0.0.1:8080", ws: true } },
  },
});
