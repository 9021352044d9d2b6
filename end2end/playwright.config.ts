// Playwright runs Debian's Chromium (it cannot download its own here) against Gantry servers
// that it starts itself, each with a fresh data directory, and stops afterwards.
import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  admin,
  clusterURL,
  gantryKubeconfig,
  noCluster,
  embeddableURL,
  prometheusURL,
  offlineURL,
  portalOrigin,
  shortSessionIdleSecs,
  unlistedPortalOrigin,
  shortSessionURL,
} from "./servers";

const gantry = process.env.GANTRY_BIN ?? "../target/debug/gantry";
// The built front end: target/site, or the release layout's copy (make e2e-release).
const site = process.env.GANTRY_SITE ?? "../target/site";
if (noCluster) console.warn(`\n*** Browser tests that ${noCluster} will be SKIPPED ***\n`);

function server(url: string, kubeconfigPath?: string, extraEnv: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "gantry-e2e-"));
  return {
    command: gantry,
    url: `${url}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    env: {
      GANTRY_LISTEN_ADDR: new URL(url).host,
      GANTRY_DATA_DIR: dataDir,
      GANTRY_SITE_ROOT: site,
      KUBECONFIG: kubeconfigPath ?? join(dataDir, "no-kubeconfig"),
      RUST_LOG: "info",
      GANTRY_ADMIN_PASSWORD: admin.password,
      // Every test signs in as the one admin, two at a time, and a closed page's streams
      // count until the server next writes to them: the default cap (8) is for one person.
      GANTRY_STREAMS_PER_USER: "64",
      ...extraEnv,
    },
  };
}

function portal(origin: string) {
  const port = new URL(origin).port;
  return {
    command: `node portal.mjs ${port}`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 10_000,
  };
}

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  use: {
    baseURL: clusterURL,
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
  webServer: [
    // A 1-minute idle window, so that a test's idle job shows in the overview soon, and a
    // finished job measured 5 s after its end.
    // Jobs may turn MLflow tracking on: kwok runs no containers, so the address their pods
    // would use only has to be set.
    server(clusterURL, gantryKubeconfig, {
      GANTRY_TRACKING_URI: clusterURL,
      GANTRY_MLFLOW_SERVICE_HOST: "gantry.gantry.svc.cluster.local",
      ...(prometheusURL
        ? { GANTRY_PROMETHEUS_URL: prometheusURL, GANTRY_IDLE_MINUTES: "1", GANTRY_JOB_GPU_USE_DELAY_SECS: "5" }
        : {}),
    }),
    server(offlineURL),
    server(shortSessionURL, gantryKubeconfig, { GANTRY_SESSION_IDLE_SECS: String(shortSessionIdleSecs) }),
    server(embeddableURL, gantryKubeconfig, { GANTRY_EMBED_ORIGINS: portalOrigin }),
    portal(portalOrigin),
    portal(unlistedPortalOrigin),
  ],
});
