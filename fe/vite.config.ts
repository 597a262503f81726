/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// `vite build --mode h5` builds the phone-first layout into dist-h5/.
// `npm run dev` proxies the API to a gatewayd at TOKGATEWAY_URL (default http://127.0.0.1:8081).
const gateway = process.env.TOKGATEWAY_URL ?? 'http://127.0.0.1:8081';

function h5Html(h5: boolean): Plugin {
  return {
    name: 'tokgateway-h5-html',
    transformIndexHtml(html) {
      if (!h5) return html;
      return html
        .replace(
          /<meta name="viewport"[^>]*>/,
          '<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, viewport-fit=cover" />\n    <meta name="mobile-web-app-capable" content="yes" />\n    <meta name="apple-mobile-web-app-capable" content="yes" />',
        )
        .replace('<html lang="en">', '<html lang="en" class="h5">');
    },
  };
}

export default defineConfig(({ mode }) => {
  const h5 = mode === 'h5';
  return {
    base: '/console/',
    plugins: [react(), h5Html(h5)],
    define: {
      __H5__: JSON.stringify(h5),
    },
    build: {
      outDir: h5 ? 'dist-h5' : 'dist',
      emptyOutDir: true,
      sourcemap: false,
      chunkSizeWarningLimit: 600,
    },
    server: {
      host: '127.0.0.1',
      port: 5173,
      proxy: Object.fromEntries(
        ['/v1', '/api', '/metrics', '/health', '/ready', '/anthropic'].map((p) => [
          p,
          { target: gateway, changeOrigin: false },
        ]),
      ),
    },
    test: {
      environment: 'jsdom',
      setupFiles: ['./src/test/setup.ts'],
      include: ['src/**/*.test.{ts,tsx}'],
      css: false,
    },
  };
});
