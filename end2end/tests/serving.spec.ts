// The Serving area on the local cluster with the real KServe controller: the seeded model
// servers are listed by kind and server; an ops admin scales one after confirming and
// watches the rollout reach the new count, and rolls a bad release back from the revisions
// with the timeline saying who did what; one an HPA scales says so; an ops admin creates,
// changes and removes an HPA after confirming; an ops admin rolls an InferenceService out
// to a registered version after the API server's preview and back, and the model's page
// says where each version served; an ops admin starts and aborts a canary where KServe splits
// traffic, and the page says why not elsewhere; a service's page charts its traffic from
// Prometheus; a viewer reads only.
import { test, expect, mlflow } from "./fixtures";
import { kubectl } from "../servers";

test("the Serving list shows the InferenceService and the model-serving Deployments", async ({ shell, page }) => {
  await shell.open("/serving");
  await expect(page.getByTestId("live-badge")).toHaveText("live");
  const table = page.getByTestId("services");
  const iris = table.locator('tr[data-namespace="ml-serving"][data-service="iris"]');
  await expect(iris).toContainText("InferenceService");
  await expect(iris).toContainText("KServe sklearn");
  await expect(iris).toContainText("gs://kfserving-examples/models/sklearn/1.0/model");
  await expect(iris).toContainText("http://iris-ml-serving.example.com");
  await expect(iris).toHaveAttribute("data-ready", "true", { timeout: 30_000 });
  await expect(table.locator('tr[data-namespace="ml-serving"][data-service="resnet"]')).toContainText("TF Serving");
  await expect(table.locator('tr[data-namespace="ml-serving"][data-service="fraud-api"]')).toContainText("flask");
  await expect(table.locator('tr[data-namespace="ml-serving"][data-service="fraud-api"]')).toContainText("models:/fraud-detector/1");
  const llama = table.locator('tr[data-namespace="ml-serving"][data-service="llama-chat"]');
  await expect(llama).toContainText("vLLM");
  await expect(llama).toContainText("2–6 on cpu 70%");
  // The predictor Deployment KServe made is part of iris, not a row of its own.
  await expect(table.locator('tr[data-namespace="ml-serving"][data-service="iris-predictor"]')).toHaveCount(0);
});

test("an ops admin scales a model server after confirming and watches the rollout, on the record", async ({ shell, page }) => {
  await shell.open("/serving");
  await page.getByTestId("services").locator('tr[data-namespace="ml-serving"]').getByRole("link", { name: "resnet" }).click();
  await expect(page).toHaveURL(/\/serving\/deployment\/ml-serving\/resnet$/);
  await expect(page.getByTestId("live-badge")).toHaveText("live");
  const rollout = page.getByTestId("rollout-text");
  await expect(rollout).toHaveText("1 updated, 1 ready, 1 available of 1 desired", { timeout: 30_000 });
  await expect(page.getByTestId("service-facts")).toContainText("HTTP GET :8501/v1/models/resnet, after 5 s");
  await expect(page.getByTestId("revisions").locator('tr[data-current="true"]')).toHaveCount(1);

  const scale = page.getByTestId("scale");
  await scale.getByLabel("Replicas").fill("3");
  await scale.getByRole("button", { name: "Scale" }).click();
  await expect(scale).toContainText("Scale resnet from 1 to 3 replicas?");
  await scale.getByRole("button", { name: "Cancel" }).click();
  await expect(rollout).toHaveText("1 updated, 1 ready, 1 available of 1 desired");

  await scale.getByRole("button", { name: "Scale" }).click();
  await scale.getByRole("button", { name: "Confirm" }).click();
  // The page follows the rollout as kwok starts the pods.
  await expect(rollout).toHaveText("3 updated, 3 ready, 3 available of 3 desired", { timeout: 30_000 });
  await expect(page.getByTestId("service-pods").locator("tbody tr")).toHaveCount(3);
  await expect(page.getByRole("progressbar", { name: /Rollout/ })).toHaveAttribute("value", "100");

  // Back to one, so the suite can run again on the same cluster.
  await scale.getByLabel("Replicas").fill("1");
  await scale.getByRole("button", { name: "Scale" }).click();
  await expect(scale).toContainText("Scale resnet from 3 to 1 replicas?");
  await scale.getByRole("button", { name: "Confirm" }).click();
  await expect(rollout).toHaveText("1 updated, 1 ready, 1 available of 1 desired", { timeout: 30_000 });
  await expect(page.getByTestId("scale-error")).toHaveText("");

  await shell.open("/admin");
  const audit = page.getByRole("region", { name: "Audit log" });
  await audit.getByLabel("Object").fill("deployment/ml-serving/resnet");
  await audit.getByLabel("Object").press("Enter");
  await expect(page.getByTestId("audit-table").locator("tr", { hasText: "replicas -> 3" }).first()).toBeVisible();
});

test("a Deployment an HPA scales says so instead of offering a scale", async ({ shell, page }) => {
  await shell.open("/serving/deployment/ml-serving/llama-chat");
  await expect(page.getByTestId("scale-owned")).toContainText(
    "The HorizontalPodAutoscaler llama-chat sets the replicas (between 2 and 6)",
  );
  await expect(page.getByRole("button", { name: "Scale" })).toHaveCount(0);
  // Its three seeded rollouts are three revisions, the newest current.
  const revisions = page.getByTestId("revisions");
  await expect(revisions.locator("tbody tr")).toHaveCount(3);
  await expect(revisions.locator('tr[data-current="true"]')).toContainText("vllm/vllm-openai:v0.6.3");
});

test("a viewer reads the Serving area and is offered no change", async ({ shell, page, browser }, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  await shell.open("/serving");
  const viewer = { username: `vic-${Date.now() % 100000}`, password: "vic's long password" };
  const created = await page.request.post("/api/accounts/create", {
    headers: { Origin: base },
    form: { username: viewer.username, display_name: "Vic", password: viewer.password, role: "viewer", namespaces: "ml-serving" },
  });
  expect(created.status(), await created.text()).toBe(200);
  const context = await browser.newContext();
  const vicPage = await context.newPage();
  await vicPage.goto("/login");
  await expect(vicPage.locator("body")).toHaveAttribute("data-hydrated", "true");
  await vicPage.getByLabel("Username").fill(viewer.username);
  await vicPage.getByLabel("Password").fill(viewer.password);
  await vicPage.getByRole("button", { name: "Log in" }).click();
  await expect(vicPage.getByTestId("user")).toContainText("viewer");
  await vicPage.goto("/serving");
  const resnet = vicPage.getByTestId("services").locator('tr[data-namespace="ml-serving"][data-service="resnet"]');
  await expect(resnet).toBeVisible();
  await resnet.getByRole("link", { name: "resnet" }).click();
  await expect(vicPage.getByTestId("rollout-text")).toContainText("desired");
  await expect(vicPage.getByRole("button", { name: "Scale" })).toHaveCount(0);
  await expect(vicPage.getByRole("button", { name: "Set autoscaling" })).toHaveCount(0);
  await expect(vicPage.getByRole("button", { name: "Preview" })).toHaveCount(0);
  // The server refuses too, whatever the page offers.
  const refused = await vicPage.request.post("/api/v1/services/deployment/ml-serving/resnet/scale", {
    headers: { Origin: base },
    data: { replicas: 5, generation: 1 },
  });
  expect(refused.status()).toBe(403);
  await context.close();
});

test("an ops admin rolls a bad release back from the revisions, and the timeline says who did what", async ({ shell, page }) => {
  const name = `digits-${Date.now().toString(36)}`;
  kubectl(["create", "deployment", name, "--namespace=ml-serving", "--image=tensorflow/serving:2.15.0"]);
  try {
    await shell.open(`/serving/deployment/ml-serving/${name}`);
    await expect(page.getByTestId("rollout-text")).toHaveText("1 updated, 1 ready, 1 available of 1 desired", { timeout: 30_000 });
    // A release made outside Gantry, at a terminal.
    kubectl(["set", "image", `deployment/${name}`, "--namespace=ml-serving", "serving=tensorflow/serving:9.9.9-bad"]);
    const revisions = page.getByTestId("revisions");
    await expect(revisions.locator('tr[data-current="true"]')).toContainText("tensorflow/serving:9.9.9-bad", { timeout: 30_000 });
    const history = page.getByTestId("history");
    await expect(history).toContainText("image tensorflow/serving:2.15.0 → tensorflow/serving:9.9.9-bad");
    await expect(history.locator("tr", { hasText: "9.9.9-bad" }).first()).toContainText("kubectl");

    const first = revisions.locator('tr[data-revision="1"]');
    await first.getByRole("button", { name: "Roll back" }).click();
    await expect(first).toContainText(`Roll ${name} back to revision 1 (tensorflow/serving:2.15.0`);
    // The page goes on following the Deployment while the question waits: scaled at a
    // terminal meanwhile, the question stays, and the rollback is based on what is shown now.
    kubectl(["scale", `deployment/${name}`, "--namespace=ml-serving", "--replicas=2"]);
    await expect(page.getByTestId("rollout-text")).toHaveText(/ of 2 desired$/, { timeout: 30_000 });
    await expect(first).toContainText(`Roll ${name} back to revision 1 (tensorflow/serving:2.15.0`);
    await first.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("rollback-result")).toHaveText("Rolled back to 1.");
    // Revision 1's template comes back as revision 3, as kubectl rollout undo makes it.
    await expect(revisions.locator('tr[data-current="true"]')).toContainText("tensorflow/serving:2.15.0", { timeout: 30_000 });
    await expect(revisions.locator('tr[data-current="true"]')).toHaveAttribute("data-revision", "3");
    await expect(history.locator("tr", { hasText: "image tensorflow/serving:9.9.9-bad → tensorflow/serving:2.15.0" }).first()).toContainText(
      "gantry:admin",
    );
    await expect(page.getByTestId("rollback-error")).toHaveText("");
  } finally {
    kubectl(["delete", "deployment", name, "--namespace=ml-serving"]);
  }
});

test("an ops admin autoscales a model server, aims it at a custom metric, and removes it, each after confirming", async ({ shell, page }) => {
  const name = `mnist-${Date.now().toString(36)}`;
  kubectl(["create", "deployment", name, "--namespace=ml-serving", "--image=tensorflow/serving:2.15.0"]);
  try {
    await shell.open(`/serving/deployment/ml-serving/${name}`);
    await expect(page.getByTestId("rollout-text")).toHaveText("1 updated, 1 ready, 1 available of 1 desired", { timeout: 30_000 });
    const facts = page.getByTestId("service-facts");
    await expect(facts).toContainText("fixed");
    const form = page.getByTestId("autoscaling");
    await form.getByLabel("Min").fill("1");
    await form.getByLabel("Max").fill("3");
    // What was typed survives the replicas moving (as an HPA moves them at any time).
    kubectl(["scale", `deployment/${name}`, "--namespace=ml-serving", "--replicas=2"]);
    await expect(page.getByTestId("rollout-text")).toContainText("of 2 desired");
    await expect(form.getByLabel("Max")).toHaveValue("3");
    kubectl(["scale", `deployment/${name}`, "--namespace=ml-serving", "--replicas=1"]);
    await expect(page.getByTestId("rollout-text")).toContainText("of 1 desired");
    await form.getByLabel("Metric", { exact: true }).selectOption("cpu");
    await form.getByLabel("Target").fill("75");
    await form.getByRole("button", { name: "Set autoscaling" }).click();
    await expect(form).toContainText(`Create a HorizontalPodAutoscaler for ${name}: 1–3 on cpu 75%?`);
    await form.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("autoscaling-result")).toHaveText(`Created the HorizontalPodAutoscaler ${name}: 1–3 on cpu 75%.`);
    // The page follows the HPA the watch now sees: the replicas are its to set.
    await expect(facts).toContainText("1–3 on cpu 75%");
    await expect(page.getByTestId("scale-owned")).toContainText(`The HorizontalPodAutoscaler ${name} sets the replicas (between 1 and 3)`);
    await expect(page.getByTestId("history").locator("tr", { hasText: "autoscaling none → 1–3 on cpu 75%" })).toContainText("gantry:admin");

    // The form starts from the HPA as it is; a custom per-pod metric replaces the CPU target.
    await expect(form.getByLabel("Max")).toHaveValue("3");
    await form.getByLabel("Max").fill("4");
    await form.getByLabel("Metric", { exact: true }).selectOption("custom");
    await form.getByLabel("Metric name").fill("requests_per_second");
    await form.getByLabel("Target").fill("20");
    await form.getByRole("button", { name: "Set autoscaling" }).click();
    await expect(form).toContainText(
      `Change the HorizontalPodAutoscaler ${name} from 1–3 on cpu 75% to 1–4 on requests_per_second 20 per pod?`,
    );
    await form.getByRole("button", { name: "Confirm" }).click();
    await expect(facts).toContainText("1–4 on requests_per_second 20 per pod");

    await form.getByRole("button", { name: "Remove autoscaling" }).click();
    await expect(form).toContainText(`Delete the HorizontalPodAutoscaler ${name}? ${name} stays at 1 replicas`);
    await form.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("autoscaling-result")).toContainText(`Deleted the HorizontalPodAutoscaler ${name}`);
    await expect(facts).toContainText("fixed");
    await expect(page.getByTestId("scale").getByRole("button", { name: "Scale" })).toBeVisible();
    await expect(page.getByTestId("autoscaling-error")).toHaveText("");
  } finally {
    kubectl(["delete", "deployment,hpa", name, "--namespace=ml-serving", "--ignore-not-found"]);
  }
});

test("an ops admin rolls an InferenceService out to a registered version after a preview, then back in one action", async ({
  shell,
  page,
  expectedConsoleErrors,
}, testInfo) => {
  const base = testInfo.project.use.baseURL!;
  const name = `petals-${Date.now().toString(36)}`;
  const [v1, v2] = [1, 2].map((v) => `gs://models/${name}/${v}`);
  // Registered by training code through the MLflow API, in the service's namespace.
  await mlflow(page.request, base, "registered-models/create", { name, tags: [{ key: "gantry.namespace", value: "ml-serving" }] });
  for (const source of [v1, v2]) {
    await mlflow(page.request, base, "model-versions/create", { name, source });
  }
  const isvc = {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name, namespace: "ml-serving" },
    spec: {
      predictor: {
        model: { modelFormat: { name: "sklearn" }, storageUri: v1, resources: { requests: { cpu: "100m", memory: "128Mi" } } },
      },
    },
  };
  kubectl(["create", "-f", "-"], JSON.stringify(isvc));
  try {
    await shell.open(`/serving/inferenceservice/ml-serving/${name}`);
    await expect(page.getByTestId("rollout-text")).toHaveText("1 updated, 1 ready, 1 available of 1 desired", { timeout: 60_000 });
    const facts = page.getByTestId("service-facts");
    await expect(facts).toContainText(`${name} v1`);

    // Picked from the registry, previewed by the API server, then confirmed.
    const form = page.getByTestId("rollout-form");
    await form.getByLabel("Registry version").selectOption({ label: `${name} v2` });
    await expect(form.getByLabel("Model")).toHaveValue(v2);
    await form.getByRole("button", { name: "Preview" }).click();
    await expect(page.getByTestId("rollout-preview")).toHaveText(`The API server accepts: spec.predictor.model.storageUri: ${v1} → ${v2}`);
    await form.getByRole("button", { name: "Roll out" }).click();
    await expect(form).toContainText(`Change ${name}'s spec.predictor.model.storageUri from ${v1} to ${v2}?`);
    await form.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("rollout-result")).toHaveText(`Rolled out: spec.predictor.model.storageUri: ${v1} → ${v2}.`);
    await expect(facts).toContainText(`${name} v2`, { timeout: 30_000 });
    const history = page.getByTestId("history");
    await expect(history.locator("tr", { hasText: `model ${v1} → ${v2}` }).first()).toContainText("gantry:admin");

    // A mistyped model is refused, naming the field, and nothing is offered to confirm.
    expectedConsoleErrors.push(/status of 400/);
    await form.getByLabel("Model").fill("gs://models/a b");
    await form.getByRole("button", { name: "Preview" }).click();
    await expect(page.getByTestId("rollout-preview-error")).toContainText("must be one word");
    await expect(form.getByRole("button", { name: "Roll out" })).toHaveCount(0);

    await page.getByRole("button", { name: "Roll back to the previous model" }).click();
    await expect(page.getByTestId("rollback-model")).toContainText(`Roll ${name} back from ${v2} to ${v1}?`);
    await page.getByTestId("rollback-model").getByRole("button", { name: "Confirm" }).click();
    await expect(facts).toContainText(`${name} v1`, { timeout: 30_000 });
    await expect(page.getByTestId("rollout-error")).toHaveText("");
    await expect(page.getByTestId("rollback-error")).toHaveText("");

    // The model's page answers where and when each version served, newest first.
    await shell.open(`/models/${name}`);
    await page.getByRole("link", { name: "Where it served" }).click();
    await expect(page.getByRole("heading", { name: `Where ${name} served` })).toBeVisible();
    const times = page.getByTestId("served-table").locator("tbody tr");
    await expect(times).toHaveCount(3);
    await expect(times.nth(0).locator("td").nth(0)).toHaveText("v1");
    await expect(times.nth(0).locator("td").nth(4)).toHaveText("serving now");
    await expect(times.nth(1).locator("td").nth(0)).toHaveText("v2");
    await expect(times.nth(2).locator("td").nth(0)).toHaveText("v1");
    await expect(times.nth(2).locator("td").nth(4)).toHaveText(/^\d{4}-\d\d-\d\dT/);
    await times.nth(0).getByRole("link", { name: `InferenceService ${name}` }).click();
    await expect(page.getByRole("heading", { name })).toBeVisible();
  } finally {
    kubectl(["delete", "inferenceservice", name, "--namespace=ml-serving", "--ignore-not-found"]);
  }
});

test("an ops admin starts a canary where KServe splits traffic and aborts it; elsewhere the page says why not", async ({ shell, page }) => {
  const name = `tulips-${Date.now().toString(36)}`;
  const [v1, v2] = [1, 2].map((v) => `gs://models/${name}/${v}`);
  // Knative mode: the one where KServe splits requests (the local cluster has no Knative,
  // so the split is never reported; what Gantry writes is what KServe reads).
  const isvc = {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name, namespace: "ml-serving", annotations: { "serving.kserve.io/deploymentMode": "Knative" } },
    spec: { predictor: { model: { modelFormat: { name: "sklearn" }, storageUri: v1 } } },
  };
  kubectl(["create", "-f", "-"], JSON.stringify(isvc));
  try {
    await shell.open(`/serving/inferenceservice/ml-serving/${name}`);
    const section = page.getByTestId("canary");
    await expect(page.getByTestId("canary-state")).toHaveText("No canary: every request goes to one revision.");
    await section.getByLabel("Canary model").fill(v2);
    await section.getByLabel("Share (%)").fill("10");
    await section.getByRole("button", { name: "Start canary" }).click();
    await expect(section).toContainText(`Send 10% of ${name}'s requests to ${v2}, the rest staying on ${v1}?`);
    await section.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("canary-result")).toHaveText(`Started a canary of ${name}: 10% of requests to ${v2}, the rest to ${v1}.`);
    await expect(page.getByTestId("canary-state")).toHaveText("A canary gets 10% of the requests.", { timeout: 30_000 });

    await section.getByRole("button", { name: "Abort" }).click();
    await expect(section).toContainText(`Send all of ${name}'s requests back to the revision rolled out before the canary, which now gets 10%?`);
    await section.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("canary-state")).toHaveText("No canary: every request goes to one revision.", { timeout: 30_000 });
    await expect(page.getByTestId("canary-error")).toHaveText("");

    // Standard mode (the seed's iris) and a plain Deployment: what is possible instead.
    await shell.open("/serving/inferenceservice/ml-serving/iris");
    await expect(page.getByTestId("canary-unsupported")).toContainText("KServe runs iris in Standard mode, where it does not split requests");
    await expect(page.getByRole("button", { name: "Start canary" })).toHaveCount(0);
    await shell.open("/serving/deployment/ml-serving/resnet");
    await expect(page.getByTestId("canary-mesh")).toContainText("Without a service mesh, a canary is a second Deployment");
  } finally {
    kubectl(["delete", "inferenceservice", name, "--namespace=ml-serving", "--ignore-not-found"]);
  }
});

test("a service's page charts its requests, latency, errors and replicas from Prometheus", async ({ shell, page }, testInfo) => {
  const traffic = page.getByTestId("service-metrics");
  const latency = traffic.getByTestId("chart-latency");
  // The simulator's series for fraud-api's pods, scraped every 5 s: in once a rate has two samples.
  await expect(async () => {
    await shell.open("/serving/deployment/ml-serving/fraud-api");
    await expect(latency.locator("svg")).toBeVisible({ timeout: 3000 });
  }).toPass({ timeout: 90_000 });
  await expect(traffic.getByRole("heading", { name: "Traffic" })).toBeVisible();
  await expect(traffic.getByTestId("metrics-step")).toContainText("series from model_requests_total and model_request_duration_seconds of fraud-api's pods");
  for (const [id, title] of [["requests", "Requests"], ["errors", "Errors"], ["replicas", "Replicas serving"]]) {
    await expect(traffic.getByTestId(`chart-${id}`).locator("figcaption")).toHaveText(title);
    await expect(traffic.getByTestId(`chart-${id}`).locator("svg")).toBeVisible();
  }
  // The quantiles as a person reads them: p50 below p95 below p99, in milliseconds.
  await latency.getByText("Show the numbers").click();
  const rows = latency.getByTestId("numbers-latency").locator("tbody tr");
  await expect(rows.locator("td:first-child")).toHaveText(["p50", "p95", "p99"]);
  await expect(latency.getByTestId("numbers-latency").locator("thead")).toContainText("Latest (ms)");
  const latest = async (row: number) => Number(await rows.nth(row).locator("td").nth(1).textContent());
  expect(await latest(0)).toBeLessThan(await latest(1));
  expect(await latest(1)).toBeLessThan(await latest(2));
  const shot = testInfo.outputPath("service-traffic.png");
  await traffic.screenshot({ path: shot });
  await testInfo.attach("service-traffic", { path: shot, contentType: "image/png" });
});
