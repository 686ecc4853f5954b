// The dashboard's build: web/ → dist/web, served by src/functions/dashboard.ts at /api/dashboard/.
// Hashed file names under assets/ let the function cache them for a year; index.html is never cached.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/api/dashboard/',
  // Preact's automatic JSX runtime, without a plugin (Vite 8 transforms with oxc).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    assetsDir: 'assets',
    // elkjs (the graph layout) is one large module; it is loaded only by the Impact page.
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
