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
