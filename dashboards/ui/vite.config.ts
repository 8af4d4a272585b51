// Builds the UI into dist/, which is committed and embedded in the pharos binary (no Node at
// Rust build time). Output names carry a content hash, so the server caches them forever.
import { defineConfig } from "vitest/config";

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
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
