// The Gantry servers the browser tests run against (started by playwright.config.ts): one
// connected to the local cluster the test command started, one with no cluster at all (what
// the shell does without one), one whose sessions expire after 3 idle seconds, and one that a
// portal may embed.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";

export const port = Number(process.env.GANTRY_E2E_PORT ?? 3399);
export const clusterURL = `http://127.0.0.1:${port}`;
export const offlineURL = `http://127.0.0.1:${port + 1}`;
export const shortSessionURL = `http://127.0.0.1:${port + 2}`;
export const shortSessionIdleSecs = 3;
// A server that portals may embed: only the first origin below is listed. The portals are
// pages the tests serve at those origins ("localhost" is another site than "127.0.0.1").
export const embeddableURL = `http://127.0.0.1:${port + 3}`;
export const portalOrigin = `http://localhost:${port + 10}`;
export const unlistedPortalOrigin = `http://localhost:${port + 11}`;

// Every server starts with this first admin (see GANTRY_ADMIN_PASSWORD).
export const admin = { username: "admin", password: "e2e admin password", displayName: "Administrator" };

// Set by tools/cluster/with-cluster.sh, which `make test` runs the tests under.
export const kubeconfig = process.env.GANTRY_TEST_KUBECONFIG;
if (!kubeconfig && process.env.GANTRY_TEST_REQUIRE_CLUSTER === "1") {
  throw new Error("GANTRY_TEST_REQUIRE_CLUSTER=1 but GANTRY_TEST_KUBECONFIG is not set");
}

// What the servers connect with: Gantry's own ServiceAccount (a TokenRequest token bound to
// k8s/base/rbac.yaml), which tools/cluster/seed.sh writes beside the admin's kubeconfig. The
// admin's is for the tests' own set-up and checks (kubectl below).
export const gantryKubeconfig = kubeconfig && join(dirname(kubeconfig), "gantry.kubeconfig");

// kubectl on that cluster, as a person at a terminal would use it (the one the cluster's
// build made; GANTRY_TEST_KUBECTL is set next to GANTRY_TEST_KUBECONFIG).
export function kubectl(args: string[], input?: string): string {
  const binary = process.env.GANTRY_TEST_KUBECTL ?? "kubectl";
  return execFileSync(binary, [`--kubeconfig=${kubeconfig}`, ...args], { input, encoding: "utf8" });
}

// The cluster's Prometheus (scraping its GPU simulator), for the cluster server's charts.
export const prometheusURL = process.env.GANTRY_TEST_PROMETHEUS_URL;

export const noCluster = kubeconfig
  ? undefined
  : "needs the local cluster: run `make test`, or set GANTRY_TEST_KUBECONFIG";

// A training job in team-a placed on one named node (spec.nodeName, as a scheduler would have
// bound it); it stays Running for 10 minutes (kwok's pod-complete delay) unless
// `annotations` (which go on its pod) set another delay.
export function trainingJob(name: string, node: string, gpus: number, annotations: Record<string, string> = {}) {
  return JSON.stringify({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "team-a" },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { annotations: { "pod-complete.stage.kwok.x-k8s.io/delay": "10m", ...annotations } },
        spec: {
          restartPolicy: "Never",
          nodeName: node,
          containers: [{ name: "train", image: "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                         resources: { limits: { "nvidia.com/gpu": String(gpus) } } }],
        },
      },
    },
  });
}
