// Charts and alerts from the local cluster's Prometheus, which scrapes the GPU simulator
// (tools/gpu-sim): a node's and a job's charts, the fleet's, the "allocated but idle" table,
// alerts where they belong and in the header, and a job's GPU efficiency kept when it ends.
import { test, expect } from "./fixtures";
import { kubectl, noCluster, trainingJob } from "../servers";

test.beforeEach(() => test.skip(!!noCluster, noCluster));

test("a node's page charts its GPUs from Prometheus; the range picker changes the step", async ({ shell, page }, testInfo) => {
  await shell.open("/nodes/gpu-h100-0");
  const metrics = page.getByTestId("node-metrics");
  const utilisation = metrics.getByTestId("chart-utilisation");
  // The local cluster's Prometheus scrapes every 5 s: reload until the node's GPUs are in.
  await expect(async () => {
    await shell.open("/nodes/gpu-h100-0");
    await expect(utilisation.locator("svg")).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 60_000 });
  await expect(utilisation.locator("figcaption")).toHaveText("GPU utilisation");
  await expect(metrics.getByTestId("metrics-step")).toContainText("one point every 15 s");
  for (const id of ["memory", "power", "temperature"]) {
    await expect(metrics.getByTestId(`chart-${id}`).locator("svg")).toBeVisible();
  }

  // Read the numbers instead: one row per GPU, the busy ones (the fine-tune's) near the top.
  await utilisation.getByText("Show the numbers").click();
  const numbers = utilisation.getByTestId("numbers-utilisation");
  await expect(numbers.locator("tbody tr")).toHaveCount(8);
  await expect(numbers.locator("tbody tr").first().locator("td").first()).toHaveText("GPU 0");
  // Pointing at the chart reads the time and each GPU's value there.
  const drawing = utilisation.locator(".chart");
  const box = (await drawing.boundingBox())!;
  await drawing.hover({ position: { x: box.width * 0.9, y: box.height / 2 } });
  await expect(utilisation.getByTestId("hover-utilisation")).toHaveText(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ · GPU 0 \d+(\.\d)? % · GPU 1 /);
  const light = testInfo.outputPath("node-charts-light.png");
  await metrics.screenshot({ path: light });
  await testInfo.attach("node-charts-light", { path: light, contentType: "image/png" });

  await metrics.getByRole("button", { name: "6h" }).click();
  await expect(metrics.getByRole("button", { name: "6h" })).toHaveAttribute("aria-pressed", "true");
  await expect(metrics.getByTestId("metrics-step")).toContainText("one point every 45 s");

  // A custom range: the last half hour, typed as a person would (UTC), one point every 15 s.
  const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16);
  const to = Math.floor(Date.now() / 60_000) * 60_000;
  const [fromText, toText] = [minute(to - 30 * 60_000), minute(to)];
  await metrics.getByText("Custom").click();
  await metrics.getByLabel("From (UTC)").fill(fromText);
  await metrics.getByLabel("To (UTC)").fill(toText);
  await metrics.getByRole("button", { name: "Show" }).click();
  await expect(metrics.getByTestId("metrics-step")).toContainText(`${fromText}:00Z to ${toText}:00Z · one point every 15 s`);

  await shell.open("/nodes/gpu-h100-0?theme=dark");
  await expect(metrics.getByTestId("chart-utilisation").locator("svg")).toBeVisible({ timeout: 15_000 });
  const dark = testInfo.outputPath("node-charts-dark.png");
  await metrics.screenshot({ path: dark });
  await testInfo.attach("node-charts-dark", { path: dark, contentType: "image/png" });
});

test("the overview lists a job holding a GPU it does not use, with its owner", async ({ shell, page }) => {
  // The cluster server's idle window is 1 minute (playwright.config.ts): the job shows after it.
  test.setTimeout(180_000);
  const name = "e2e-idle";
  kubectl(["create", "-f", "-"], trainingJob(name, "gpu-h100-2", 1, { "gantry.dev/gpu-pattern": "idle" }));
  try {
    const row = page.getByTestId("gpu-idle").locator(`tr[data-pod^="team-a/${name}-"]`);
    await expect(async () => {
      await shell.open("/");
      await expect(row).toBeVisible({ timeout: 3000 });
    }).toPass({ timeout: 150_000 });
    await expect(row.locator("td")).toContainText(["team-a", `Job/${name}`, "gpu-h100-2", "1"]);
    await expect(page.getByTestId("gpu-idle")).toContainText("stayed under 5 % for the last 1 minutes");
  } finally {
    kubectl(["delete", "job", name, "--namespace=team-a"]);
    kubectl(["delete", "pods", `--selector=job-name=${name}`, "--namespace=team-a", "--grace-period=0", "--force"]);
  }
});

test("a GPU's XID error shows as a firing alert on its node's page", async ({ shell, page }) => {
  // The wait below is bounded at 90 s (scrape, rule evaluation and Gantry's 15 s alert
  // cache in turn); the default 30 s test timeout cut it short on a busy CI machine, with
  // the alert already counted in the header and not yet in the node's cached list.
  test.setTimeout(120_000);
  const node = "gpu-a100-2";
  kubectl(["annotate", "node", node, "gantry.dev/gpu-xid=79", "--overwrite"]);
  try {
    const alert = page.getByTestId("alerts").locator('li[data-alert="GpuXidError"]');
    // Scraped every 5 s, evaluated every 5 s, read at most every 15 s: reload until it fires.
    await expect(async () => {
      await shell.open(`/nodes/${node}`);
      await expect(alert).toBeVisible({ timeout: 3000 });
    }).toPass({ timeout: 90_000 });
    await expect(alert).toHaveAttribute("data-state", "firing");
    await expect(alert).toContainText("reported XID 79");
    // The header counts it on every page.
    await expect(page.getByTestId("alert-count")).toHaveText(/^\d+ alerts?$/);
    // On a phone it still fits: the header drops words, and nothing scrolls sideways.
    await page.setViewportSize({ width: 360, height: 640 });
    await expect(page.getByTestId("alert-count")).toHaveText(/^\d+ alerts?$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await expect(page.getByTestId("alert-count")).toHaveAccessibleName(/^\d+ alerts? firing/);
    await shell.open("/nodes/gpu-a100-1");
    await expect(page.getByTestId("alerts")).not.toContainText("GpuXidError");
  } finally {
    kubectl(["annotate", "node", node, "gantry.dev/gpu-xid-"]);
  }
});

test("a job's page charts its pods' GPUs, and its GPU efficiency is kept when it ends", async ({ shell, page }, testInfo) => {
  // Runs 40 s; measured 5 s after its end (playwright.config.ts), in rounds of 10 s.
  test.setTimeout(180_000);
  const name = "e2e-sixty";
  kubectl(["create", "-f", "-"], trainingJob(name, "gpu-h100-2", 1, {
    "gantry.dev/gpu-pattern": "60",
    "pod-complete.stage.kwok.x-k8s.io/delay": "40s",
  }));
  try {
    const metrics = page.getByTestId("job-metrics");
    const utilisation = metrics.getByTestId("chart-utilisation");
    await expect(async () => {
      await shell.open(`/jobs/team-a/${name}`);
      await expect(utilisation.locator("svg")).toBeVisible({ timeout: 3000 });
    }).toPass({ timeout: 60_000 });
    await expect(metrics.getByRole("button", { name: "Whole run" })).toHaveAttribute("aria-pressed", "true");
    await expect(metrics.getByTestId("chart-memory").locator("svg")).toBeVisible();
    await utilisation.getByText("Show the numbers").click();
    const first = utilisation.getByTestId("numbers-utilisation").locator("tbody tr").first();
    await expect(first.locator("td").first()).toHaveText(new RegExp(`^${name}-\\w{5} · GPU \\d$`));
    const drawing = utilisation.locator(".chart");
    const box = (await drawing.boundingBox())!;
    await drawing.hover({ position: { x: box.width * 0.5, y: box.height / 2 } });
    await expect(utilisation.getByTestId("hover-utilisation")).toContainText(`${name}-`);
    const shot = testInfo.outputPath("job-charts.png");
    await metrics.screenshot({ path: shot });
    await testInfo.attach("job-charts", { path: shot, contentType: "image/png" });

    // Ended and measured: the list's "GPU efficiency" column and the job's page say it.
    const row = page.locator(`tr[data-job="${name}"]`);
    await expect(async () => {
      await shell.open("/jobs");
      await expect(row.getByTestId("gpu-efficiency")).toHaveText(/^\d+ % of 0\.\d\d GPU-h$/, { timeout: 3000 });
    }).toPass({ timeout: 120_000 });
    const efficiency = Number((await row.getByTestId("gpu-efficiency").textContent())!.split(" ")[0]);
    expect(efficiency).toBeGreaterThanOrEqual(50);
    expect(efficiency).toBeLessThanOrEqual(70);
    await shell.open(`/jobs/team-a/${name}`);
    await expect(page.getByTestId("job-gpu-use")).toContainText("mean utilisation");
  } finally {
    kubectl(["delete", "job", name, "--namespace=team-a", "--ignore-not-found"]);
  }
});

test("the overview charts the fleet's GPUs, allocated and busy", async ({ shell, page }) => {
  const fleet = page.getByTestId("fleet-metrics");
  await expect(async () => {
    await shell.open("/");
    await expect(fleet.getByTestId("chart-fleet").locator("svg")).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 60_000 });
  await expect(fleet.getByRole("button", { name: "6h" })).toHaveAttribute("aria-pressed", "true");
  await fleet.getByText("Show the numbers").click();
  const names = fleet.getByTestId("numbers-fleet").locator("tbody tr td:first-child");
  await expect(names).toHaveText(["Allocated", "Busy", "GPUs"]);
});
