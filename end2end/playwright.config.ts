import { defineConfig } from '@playwright/test';

// Runs against the release binary (built by `make test` first) with the
// simulated market, in Debian's headless Chromium. Never downloads browsers.
const PORT = 3107;
const BUSY_PORT = 3108; // also in tests/live.spec.ts

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    headless: true,
    viewport: { width: 1400, height: 900 },
  },
  webServer: [
    {
      command: `rm -f ../target/e2e.db ../target/e2e.db-wal ../target/e2e.db-shm && ../target/release/pairdesk serve --source sim --symbols BTCUSDT,ETHUSDT,SOLUSDT --db ../target/e2e.db --listen 127.0.0.1:${PORT}`,
      url: `http://127.0.0.1:${PORT}/`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    // A busier simulated market (about 500 trades/s) for the latency test,
    // with ten minutes of history on start (six hours would be 11M ticks).
    {
      command: `rm -f ../target/e2e-busy.db ../target/e2e-busy.db-wal ../target/e2e-busy.db-shm && ../target/release/pairdesk serve --source sim --sim-rate 9 --history 10m --db ../target/e2e-busy.db --listen 127.0.0.1:${BUSY_PORT}`,
      url: `http://127.0.0.1:${BUSY_PORT}/`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  ],
});
