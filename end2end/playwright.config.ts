// Playwright runs Debian's Chromium (it cannot download its own here) against a Gantry server
// that it starts itself, with a fresh data directory, and stops afterwards.
import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.env.GANTRY_E2E_PORT ?? 3399);
const baseURL = `http://127.0.0.1:${port}`;
const gantry = process.env.GANTRY_BIN ?? "../target/debug/gantry";
const dataDir = mkdtempSync(join(tmpdir(), "gantry-e2e-"));

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        // Without these Chromium keeps trying to reach the internet, which is closed here.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    command: gantry,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    env: {
      GANTRY_LISTEN_ADDR: `127.0.0.1:${port}`,
      GANTRY_DATA_DIR: dataDir,
      GANTRY_SITE_ROOT: "../target/site",
      // No cluster yet for the browser tests: the shell must work, and say so, without one.
      KUBECONFIG: process.env.GANTRY_E2E_KUBECONFIG ?? join(dataDir, "no-kubeconfig"),
      RUST_LOG: "info",
    },
  },
});
