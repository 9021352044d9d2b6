// The Models area as a person uses it: what training code registered through Gantry's MLflow
// API (called here as the client calls it) is found by searching, and a model's page lists
// its versions, stages and aliases.
import { test, expect, mlflow } from "./fixtures";
import { admin } from "../servers";

test("a model registered through the MLflow API is found in the Models area with its versions and alias", async ({
  shell,
  page,
}, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const name = `churn-${Date.now().toString(36)}`;
  await mlflow(page.request, base, "registered-models/create", {
    name,
    description: "Predicts who leaves",
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  for (const source of ["s3://models/churn/1", "s3://models/churn/2"]) {
    await mlflow(page.request, base, "model-versions/create", { name, source });
  }
  await mlflow(page.request, base, "registered-models/alias", { name, alias: "champion", version: "1" });
  await mlflow(page.request, base, "model-versions/transition-stage", {
    name,
    version: "2",
    stage: "Staging",
    archive_existing_versions: false,
  });

  await shell.open("/models");
  await page.getByLabel("Search").fill(name);
  await page.getByLabel("Search").press("Enter");
  const row = page.getByTestId("models-table").locator(`tr[data-model="${name}"]`);
  await expect(row.locator("td")).toHaveText([name, "team-a", "2", "2", "@champion → 1", /^\d{4}-/]);
  await expect(page.getByTestId("models-table").locator("tbody tr")).toHaveCount(1);

  await row.getByRole("link", { name }).click();
  await expect(page).toHaveURL(`/models/${name}`);
  await expect(shell.heading).toHaveText(name);
  await expect(page.getByTestId("model-aliases")).toHaveText("@champion → 1");
  const versions = page.getByTestId("versions-table").locator("tbody tr");
  await expect(versions).toHaveCount(2);
  // The first cell of each row is its "Compare" checkbox.
  await expect(versions.nth(0).locator("td")).toContainText(["", "2", "Staging", "", "s3://models/churn/2"]);
  await expect(versions.nth(1).locator("td")).toContainText(["", "1", "None", "@champion", "s3://models/churn/1"]);
});

test("on a model's page an alias is set, a version moved and one deleted, each confirmed; a viewer only reads", async ({
  shell,
  page,
  browser,
}, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const name = `fraud-${Date.now().toString(36)}`;
  await mlflow(page.request, base, "registered-models/create", {
    name,
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  for (const source of ["s3://models/fraud/1", "s3://models/fraud/2"]) {
    await mlflow(page.request, base, "model-versions/create", { name, source });
  }
  await shell.open(`/models/${name}`);
  const row = (version: number) => page.getByTestId("versions-table").locator(`tr[data-version="${version}"]`);

  await row(2).getByLabel("Alias for version 2").fill("candidate");
  await row(2).getByRole("button", { name: "Set alias" }).click();
  await expect(row(2).getByRole("group", { name: "Confirm" })).toContainText("Point @candidate at version 2?");
  await row(2).getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("model-aliases")).toHaveText("@candidate → 2");

  await row(1).getByLabel("Stage for version 1").selectOption("Production");
  await row(1).getByRole("button", { name: "Move" }).click();
  await expect(row(1).getByRole("group", { name: "Confirm" })).toContainText("Move version 1 from None to Production?");
  await row(1).getByRole("button", { name: "Confirm" }).click();
  await expect(row(1).locator("td").nth(2)).toHaveText("Production");

  // Asked, then thought better of: nothing changes.
  await row(2).getByRole("button", { name: "Delete" }).click();
  await expect(row(2).getByRole("group", { name: "Confirm" })).toContainText("Delete version 2?");
  await row(2).getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("versions-table").locator("tbody tr")).toHaveCount(2);
  await row(2).getByRole("button", { name: "Delete" }).click();
  await row(2).getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("versions-table").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByTestId("model-aliases")).toHaveText("none");

  // A viewer of team-a, in a browser of their own, reads the model and is offered no change.
  const viewer = { username: `vera-${Date.now() % 100000}`, password: "vera's long password" };
  const created = await page.request.post("/api/accounts/create", {
    headers: { Origin: base },
    form: { username: viewer.username, display_name: "Vera", password: viewer.password, role: "viewer", namespaces: "team-a" },
  });
  expect(created.status(), await created.text()).toBe(200);
  const context = await browser.newContext();
  const veraPage = await context.newPage();
  await veraPage.goto("/login");
  await expect(veraPage.locator("body")).toHaveAttribute("data-hydrated", "true");
  await veraPage.getByLabel("Username").fill(viewer.username);
  await veraPage.getByLabel("Password").fill(viewer.password);
  await veraPage.getByRole("button", { name: "Log in" }).click();
  await expect(veraPage.getByTestId("user")).toContainText("viewer");
  await veraPage.goto(`/models/${name}`);
  await expect(veraPage.getByTestId("versions-table").locator("tbody tr")).toHaveCount(1);
  await expect(veraPage.getByRole("button", { name: "Set alias" })).toHaveCount(0);
  await expect(veraPage.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await context.close();
});

test("a model that does not exist says so on its page", async ({ shell, page, expectedConsoleErrors }) => {
  expectedConsoleErrors.push(/status of 404/);
  await shell.open("/models/no-such-model");
  await expect(page.getByText('model "no-such-model" not found')).toBeVisible();
});

test("a version's files are browsed folder by folder and downloaded", async ({ shell, page }, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const stamp = Date.now().toString(36);
  const name = `ranker-${stamp}`;
  const { experiment_id } = await mlflow(page.request, base, "experiments/create", {
    name: `files-${stamp}`,
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  const { run } = await mlflow(page.request, base, "runs/create", { experiment_id });
  const runId = run.info.run_id;
  // What log_artifacts does: one PUT per file, under the run's artifact URI.
  for (const [file, body] of [
    ["model/MLmodel", "flavors: {}\n"],
    ["model/data/weights.bin", "0123456789"],
  ]) {
    const put = await page.request.put(`/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${runId}/artifacts/${file}`, {
      data: body,
      headers: { Origin: base },
    });
    expect(put.status(), await put.text()).toBe(200);
  }
  await mlflow(page.request, base, "registered-models/create", {
    name,
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  await mlflow(page.request, base, "model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId });

  await shell.open(`/models/${name}`);
  const files = page.getByTestId("files");
  await expect(files.getByRole("listitem")).toHaveText([/^MLmodel/, "data/"]);
  await files.getByRole("button", { name: "data/" }).click();
  await expect(files.getByRole("listitem")).toHaveText([/^data\/weights\.bin\s+10 B$/]);
  const download = page.waitForEvent("download");
  await files.getByRole("link", { name: "data/weights.bin" }).click();
  const saved = await download;
  expect(saved.suggestedFilename()).toBe("weights.bin");
  expect((await import("node:fs")).readFileSync(await saved.path(), "utf8")).toBe("0123456789");
  await files.getByRole("button", { name: "↑ All files" }).click();
  await expect(files.getByRole("listitem")).toHaveCount(2);
});

test("a run logged through the MLflow API is found under Experiments with its metrics charted by step", async ({
  shell,
  page,
}, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const stamp = Date.now().toString(36);
  const name = `training-${stamp}`;
  const { experiment_id } = await mlflow(page.request, base, "experiments/create", {
    name,
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  const { run } = await mlflow(page.request, base, "runs/create", { experiment_id, run_name: "baseline" });
  const runId = run.info.run_id;
  // What a training loop logs: a parameter, then loss and accuracy at every step.
  const metrics = [];
  for (let step = 0; step < 50; step++) {
    metrics.push({ key: "loss", value: 2 / (step + 1), timestamp: 1, step });
    metrics.push({ key: "accuracy", value: step / 50, timestamp: 1, step });
  }
  await mlflow(page.request, base, "runs/log-batch", {
    run_id: runId,
    metrics,
    params: [{ key: "learning_rate", value: "0.01" }],
  });
  await mlflow(page.request, base, "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
  const put = await page.request.put(`/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${runId}/artifacts/model/MLmodel`, {
    data: "flavors: {}\n",
    headers: { Origin: base },
  });
  expect(put.status(), await put.text()).toBe(200);

  await shell.open("/models");
  await page.getByRole("navigation", { name: "Models" }).getByRole("link", { name: "Experiments" }).click();
  await expect(shell.heading).toHaveText("Experiments");
  await page.getByLabel("Search").fill(name);
  await page.getByLabel("Search").press("Enter");
  const row = page.getByTestId("experiments-table").locator(`tr[data-experiment="${name}"]`);
  await expect(row.locator("td")).toHaveText([name, "team-a", "1", /^\d{4}-/]);
  await row.getByRole("link", { name }).click();

  await expect(shell.heading).toHaveText(name);
  const runRow = page.getByTestId("runs-table").locator(`tr[data-run="${runId}"]`);
  // Columns: compare, run, status, user, started, duration, then each metric's latest value
  // by key.
  await expect(runRow.locator("td")).toHaveText(["", "baseline", "FINISHED", "admin", /^\d{4}-/, /s$/, "0.98", "0.04"]);
  await runRow.getByRole("link", { name: "baseline" }).click();

  await expect(page).toHaveURL(`/runs/${runId}`);
  await expect(shell.heading).toHaveText("baseline");
  const loss = page.getByTestId("run-chart-loss");
  await expect(loss.locator("figcaption")).toHaveText("loss: 0.04");
  await expect(loss.locator("svg")).toBeVisible();
  await expect(loss.getByText("50 points by step")).toBeVisible();
  await expect(page.getByTestId("run-chart-accuracy").locator("figcaption")).toHaveText("accuracy: 0.98");
  await expect(page.getByTestId("params").locator("tr")).toHaveText([/learning_rate\s*0\.01/]);
  const files = page.getByTestId("run-files");
  await files.getByRole("button", { name: "model/" }).click();
  await expect(files.getByRole("link", { name: "model/MLmodel" })).toBeVisible();

  // The link MLflow prints ("View run at …/#/experiments/1/runs/…"), opened in the browser.
  await page.goto(`/#/experiments/${experiment_id}/runs/${runId}`);
  await expect(page).toHaveURL(`/runs/${runId}`);
  await expect(shell.heading).toHaveText("baseline");

  // The same link opened while logged out: the login page keeps the link's fragment, so
  // logging in still reaches the run.
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL("/login");
  await page.goto(`/#/experiments/${experiment_id}/runs/${runId}`);
  await expect(page).toHaveURL(`/login?next=%2F#/experiments/${experiment_id}/runs/${runId}`);
  await shell.waitForHydration();
  await page.getByLabel("Username").fill(admin.username);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(`/runs/${runId}`);
  await expect(shell.heading).toHaveText("baseline");
});

test("two runs, and the two versions registered from them, are compared side by side with the differences marked; a version shows its run", async ({
  shell,
  page,
}, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const stamp = Date.now().toString(36);
  const experiment = `sweep-${stamp}`;
  const model = `sweeper-${stamp}`;
  const { experiment_id } = await mlflow(page.request, base, "experiments/create", {
    name: experiment,
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  const runs: string[] = [];
  for (const [name, lr, loss] of [["small-lr", "0.01", 0.4], ["big-lr", "0.1", 0.3]] as const) {
    const { run } = await mlflow(page.request, base, "runs/create", { experiment_id, run_name: name });
    await mlflow(page.request, base, "runs/log-batch", {
      run_id: run.info.run_id,
      metrics: [{ key: "loss", value: loss, timestamp: 1, step: 1 }],
      params: [{ key: "lr", value: lr }, { key: "epochs", value: "3" }],
    });
    runs.push(run.info.run_id);
  }
  await mlflow(page.request, base, "registered-models/create", {
    name: model,
    description: "Trained on **June** data; [notes](https://example.com/notes) [bad](javascript:alert(1))",
    tags: [{ key: "gantry.namespace", value: "team-a" }],
  });
  for (const run of runs) {
    await mlflow(page.request, base, "model-versions/create", { name: model, run_id: run, source: `runs:/${run}/model` });
  }

  // From the experiment's runs: tick both, compare.
  await shell.open(`/experiments/${experiment_id}`);
  await page.getByLabel("Compare small-lr").check();
  await page.getByLabel("Compare big-lr").check();
  await page.getByRole("button", { name: "Compare selected runs" }).click();
  await expect(shell.heading).toHaveText("Compare runs");
  const table = page.getByTestId("compare-table");
  // In the order of the runs table: newest first.
  await expect(table.locator("thead th")).toHaveText(["", "big-lr", "small-lr"]);
  await expect(page.getByTestId("compare-summary")).toContainText("2 of 3 params and metrics differ");
  const lr = page.getByTestId("compare-params").locator('tr[data-key="lr"]');
  await expect(lr).toHaveAttribute("data-differs", "true");
  await expect(lr.locator("th")).toHaveText("lr ≠");
  await expect(lr.locator("td")).toHaveText(["0.1", "0.01"]);
  const epochs = page.getByTestId("compare-params").locator('tr[data-key="epochs"]');
  await expect(epochs.locator("td")).toHaveText(["3", "3"]);
  await page.getByLabel("Show only what differs").check();
  await expect(epochs).toBeHidden();
  await expect(lr).toBeVisible();
  await expect(page.getByTestId("compare-metrics").locator('tr[data-key="loss"] td')).toHaveText(["0.3", "0.4"]);
  await table.getByRole("link", { name: "big-lr" }).click();
  await expect(page).toHaveURL(`/runs/${runs[1]}`);

  // From the model's page: its description as formatted text, without the unsafe link;
  // then both versions compared.
  await shell.open(`/models/${model}`);
  const description = page.getByTestId("model-description");
  await expect(description.locator("strong")).toHaveText("June");
  await expect(description.getByRole("link", { name: "notes" })).toHaveAttribute("href", "https://example.com/notes");
  await expect(description.locator('a[href^="javascript"]')).toHaveCount(0);
  // Version 2's page: the run it came from, with what it logged; no Job (not launched by
  // Gantry).
  await page.getByTestId("versions-table").getByRole("link", { name: "2", exact: true }).click();
  await expect(shell.heading).toHaveText(`${model} version 2`);
  await expect(page.getByTestId("lineage-run").getByRole("link", { name: "big-lr" })).toBeVisible();
  await expect(page.getByTestId("lineage-params").locator("tr")).toHaveText([/epochs\s*3/, /lr\s*0\.1/]);
  await expect(page.getByTestId("lineage-job")).toHaveText("The run was not launched by Gantry, so no Job is known.");
  await page.getByRole("link", { name: `← ${model}` }).click();
  await page.getByLabel("Compare version 1").check();
  await page.getByLabel("Compare version 2").check();
  await page.getByRole("button", { name: "Compare selected versions" }).click();
  await expect(shell.heading).toHaveText(`Compare versions of ${model}`);
  await expect(table.locator("thead th")).toHaveText(["", "version 2", "version 1"]);
  await expect(page.getByTestId("compare-facts").locator('tr[data-key="Run"] td')).toHaveText(["big-lr", "small-lr"]);
  await expect(page.getByTestId("compare-params").locator('tr[data-key="lr"] td')).toHaveText(["0.1", "0.01"]);
});
