// The GPU inventory of the seeded fleet (tools/cluster/fleet), as a person reads it. Only
// what other tests never change is checked: they run jobs on H100s, never on A100s or L4s.
import { test, expect } from "./fixtures";
import { kubectl, noCluster, trainingJob } from "../servers";

test.beforeEach(() => test.skip(!!noCluster, noCluster));

test("the overview says how many GPUs of each model are free", async ({ shell, page }) => {
  await shell.open("/");
  const summary = page.getByTestId("gpu-summary");
  // 4 nodes × 8 A100s; the cordoned one's GPUs do not count as free.
  const a100 = summary.locator('tr[data-model="NVIDIA-A100-SXM4-40GB"]');
  await expect(a100.locator("td")).toHaveText(["NVIDIA-A100-SXM4-40GB", "4", "32", "0", "24", "0 %"]);
  // Two time-sliced L4 nodes: 16 schedulable GPUs each; llama-chat's two replicas hold two
  // (once its older revisions' pods, Terminating after the seed, are gone: reload until then).
  await expect(async () => {
    await shell.open("/");
    const l4 = page.getByTestId("gpu-summary").locator('tr[data-model="NVIDIA-L4"]');
    await expect(l4.locator("td")).toHaveText(["NVIDIA-L4", "2", "32", "2", "30", "6 %"], { timeout: 2000 });
  }).toPass({ timeout: 60_000 });
  await expect(page.locator("p.attention", { hasText: "Not ready:" })).toContainText("gpu-h100-3");
  await expect(page.locator("p.attention", { hasText: "Cordoned:" })).toContainText("gpu-a100-3");
});

test("the GPU nodes table filters by model, free GPUs and readiness", async ({ shell, page }) => {
  await shell.open("/nodes");
  const table = page.getByTestId("nodes-table");
  await expect(page.getByTestId("node-count")).toHaveText("12 nodes match");
  await expect(table.locator('tr[data-node="cpu-0"]')).toHaveCount(0);

  const mig = table.locator('tr[data-node="gpu-a100-mig-0"]');
  await expect(mig).toContainText("mig-1g.10gb: 0/16, mig-3g.40gb: 0/8");
  await expect(table.locator('tr[data-node="gpu-a100-3"]')).toContainText("cordoned");
  await expect(table.locator('tr[data-node="gpu-h100-3"]')).toContainText("NotReady");
  await expect(table.locator('tr[data-node="gpu-l4-0"]')).toContainText("NVIDIA-L4 (4 × 4 time-sliced)");

  const filters = page.getByRole("search", { name: "Filter nodes" });
  await filters.getByLabel("GPU model").selectOption("NVIDIA-A100-SXM4-40GB");
  await expect(page.getByTestId("node-count")).toHaveText("4 nodes match");
  await expect(table.getByTestId("free")).toHaveText(["8", "8", "8", "8"]);

  await filters.getByLabel("GPU model").selectOption("");
  // Only the MIG nodes have 20 or more free slices (24 each); others have at most 16.
  await filters.getByLabel("Free GPUs at least").fill("20");
  await filters.getByLabel("Free GPUs at least").press("Enter");
  await expect(page.getByTestId("node-count")).toHaveText("2 nodes match");
  await expect(table.locator("tbody tr")).toHaveCount(2);

  await filters.getByLabel("Free GPUs at least").fill("");
  await filters.getByLabel("Free GPUs at least").press("Enter");
  await filters.getByLabel("Readiness").selectOption("not-ready");
  await expect(page.getByTestId("node-count")).toHaveText("1 nodes match");
  await expect(table.locator("tbody tr")).toHaveCount(1);
});

test("an ops admin cordons and uncordons a node after confirming, on the record", async ({ shell, page }) => {
  await shell.open("/nodes");
  const row = page.getByTestId("nodes-table").locator('tr[data-node="gpu-a100-mig-1"]');
  await row.getByRole("button", { name: "Cordon" }).click();
  await expect(row).toContainText("Cordon gpu-a100-mig-1?");
  await row.getByRole("button", { name: "Cancel" }).click();
  await expect(row).not.toContainText("cordoned");

  await row.getByRole("button", { name: "Cordon" }).click();
  await row.getByRole("button", { name: "Confirm" }).click();
  await expect(row).toContainText("Ready, cordoned");
  await row.getByRole("button", { name: "Uncordon" }).click();
  await row.getByRole("button", { name: "Confirm" }).click();
  await expect(row).not.toContainText("cordoned");

  await shell.open("/admin");
  const audit = page.getByRole("region", { name: "Audit log" });
  await audit.getByLabel("Object").fill("gpu-a100-mig-1");
  await audit.getByLabel("Object").press("Enter");
  await expect(page.getByTestId("audit-table")).toContainText("node.cordon");
  await expect(page.getByTestId("audit-table")).toContainText("node.uncordon");
  // Recorded with the address the change came from, though it ran to completion on its own.
  // The attempt is recorded before the patch, its outcome after.
  const cordons = page.getByTestId("audit-table").locator("tr", { hasText: "node.cordon" });
  await expect(cordons.filter({ hasText: "attempted" })).toContainText("127.0.0.1");
  await expect(cordons.filter({ has: page.locator("td", { hasText: /^ok$/ }) })).toContainText("127.0.0.1");
});

test("the JSON API answers with the session or a token, and refuses anonymous calls", async ({ shell, page, playwright, baseURL }) => {
  await shell.open("/");
  const summary = await page.request.get("/api/v1/gpu-summary");
  expect(summary.status()).toBe(200);
  const models = (await summary.json()).models.map((m: { model: string }) => m.model);
  expect(models).toEqual(["NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "NVIDIA-L4"]);
  const nodes = await page.request.get("/api/v1/gpu-nodes?model=NVIDIA-L4&sort=free");
  const body = await nodes.json();
  expect(body.matching).toBe(2);
  expect(body.rows.map((r: { name: string }) => r.name).sort()).toEqual(["gpu-l4-0", "gpu-l4-1"]);

  const anonymous = await playwright.request.newContext({ baseURL });
  expect((await anonymous.get("/api/v1/gpu-summary")).status()).toBe(401);
  await anonymous.dispose();
});

test("a job started with kubectl shows as allocation within 2 s, without a reload", async ({ shell, page }) => {
  // The NotReady H100 node: the scheduler places nothing there, so the jobs other tests
  // launch meanwhile cannot change its numbers.
  const node = "gpu-h100-3";
  await shell.open("/nodes");
  await page.getByRole("search", { name: "Filter nodes" }).getByLabel("Search").fill(node);
  await page.getByRole("search", { name: "Filter nodes" }).getByLabel("Search").press("Enter");
  const row = page.getByTestId("nodes-table").locator(`tr[data-node="${node}"]`);
  await expect(page.getByTestId("live-badge")).toHaveText("live");
  const before = Number(await row.getByTestId("allocated").textContent());
  // Marks this document: a reload would lose the mark.
  await page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));

  kubectl(["create", "-f", "-"], trainingJob("e2e-live", node, 2));
  try {
    await expect(row.getByTestId("allocated")).toHaveText(String(before + 2), { timeout: 2000 });
    await expect(row.getByTestId("free")).toHaveText(String(8 - before - 2));
  } finally {
    // The Job first (so that nothing recreates its pod), then the pod without the grace
    // period it would otherwise hold its GPUs for.
    kubectl(["delete", "job", "e2e-live", "--namespace=team-a"]);
    kubectl(["delete", "pods", "--selector=job-name=e2e-live", "--namespace=team-a", "--grace-period=0", "--force"]);
  }
  // The job finishing (here: deleted) gives the GPUs back, as live.
  await expect(row.getByTestId("allocated")).toHaveText(String(before), { timeout: 10_000 });
  expect(await page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded)).toBe(true);
});

test("a node's page shows its capacity, the pods holding its GPUs and who owns them", async ({ shell, page }) => {
  // The seeded fine-tune's node, wherever the scheduler put it.
  const node = kubectl(["get", "pods", "--namespace=team-a", "--selector=job-name=llama-finetune",
                        "--output=jsonpath={.items[0].spec.nodeName}"]).trim();
  await shell.open("/nodes");
  await page.getByRole("search", { name: "Filter nodes" }).getByLabel("GPU model").selectOption("NVIDIA-H100-80GB-HBM3");
  await page.getByTestId("nodes-table").getByRole("link", { name: node, exact: true }).click();
  await expect(shell.heading).toHaveText(node);
  await expect(page.getByTestId("node-facts")).toContainText("NVIDIA-H100-80GB-HBM3");
  await expect(page.getByTestId("node-facts")).toContainText("hopper");
  const gpus = page.getByTestId("capacity").locator('[data-resource="nvidia.com/gpu"]');
  await expect(gpus.getByRole("progressbar")).toBeVisible();
  await expect(gpus).toContainText("of 8 allocated");
  const pod = page.getByTestId("gpu-pods").locator("tbody tr", { hasText: "llama-finetune" });
  await expect(pod.locator("td")).toContainText(["team-a", /^llama-finetune-/, "Job llama-finetune", "4 × gpu"]);
  await expect(page.getByTestId("node-labels")).toContainText("nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3");
});

test("the overview lists a pod waiting for GPUs with the scheduler's reason", async ({ shell, page }) => {
  await shell.open("/");
  await expect(page.getByTestId("live-badge")).toHaveText("live");
  const pod = JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "e2e-too-big", namespace: "team-a" },
    spec: { containers: [{ name: "train", image: "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                           resources: { limits: { "nvidia.com/gpu": "64" } } }] },
  });
  kubectl(["create", "-f", "-"], pod);
  try {
    const waiting = page.getByTestId("pending-pods").locator('tr[data-pod="e2e-too-big"]');
    await expect(waiting).toContainText("64 × gpu");
    await expect(waiting.locator("td.reason")).toContainText("Insufficient nvidia.com/gpu");
  } finally {
    kubectl(["delete", "pod", "e2e-too-big", "--namespace=team-a", "--grace-period=0", "--wait=false"]);
  }
  await expect(page.getByTestId("pending-pods").locator('tr[data-pod="e2e-too-big"]')).toHaveCount(0);
});
