// Builds the UI into dist/, which is committed and embedded in the pharos binary (no Node at
// Rust build time). Output names carry a content hash, so the server caches them forever.
import { defineConfig } from "vitest/config";

// Node globals without @types/node (the config is the only file that runs in Node).
declare const process: { env: Record<string, string | undefined> };

export default defineConfig({
  // Preact's JSX through esbuild: no Babel preset needed.
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  resolve: {
    alias: { react: "preact/compat", "react-dom": "preact/compat" },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    // One small first-load chunk; views split off with dynamic import().
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
  // `npm run dev`: the API comes from a running pharos (PHAROS_URL, default :7070).
  server: {
    proxy: Object.fromEntries(
      ["/api", "/prometheus", "/ready", "/health"].map((p) => [p, process.env.PHAROS_URL ?? "http://127.0.0.1:7070"]),
    ),
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
