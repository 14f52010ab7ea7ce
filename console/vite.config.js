import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Served by components/console under /console/ (the host mounts dist/ at /).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npm run dev` against a running `fleetjobs up` (scripts/up.sh).
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
