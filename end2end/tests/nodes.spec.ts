// The GPU inventory of the seeded fleet (tools/cluster/fleet), as a person reads it. Only
// what other tests never change is checked: they run jobs on H100s, never on A100s or L4s.
import { test, expect } from "./fixtures";
import { noCluster } from "../servers";

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
