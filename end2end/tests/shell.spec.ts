// The app shell as a person uses it: navigate the six areas, switch the theme, use the menu on
// a narrow screen, and open a page embedded without the navigation.
import { test, expect } from "./fixtures";
import { noCluster, offlineURL } from "../servers";

const areas = [
  { link: "Overview", path: "/", heading: "Overview" },
  { link: "GPU nodes", path: "/nodes", heading: "GPU nodes" },
  { link: "Training jobs", path: "/jobs", heading: "Training jobs" },
  { link: "Models", path: "/models", heading: "Models" },
  { link: "Serving", path: "/serving", heading: "Serving" },
  { link: "Admin", path: "/admin", heading: "Admin" },
];

test("navigates all six areas, each saying what it holds", async ({ shell, page }) => {
  await shell.open("/");
  // A marker that survives client-side navigation but not a page reload.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  for (const area of areas) {
    await shell.nav.getByRole("link", { name: area.link, exact: true }).click();
    await expect(page).toHaveURL(area.path);
    await expect(shell.heading).toHaveText(area.heading);
    await expect(page).toHaveTitle(`${area.heading} · Gantry`);
    // Each area shows what it holds.
    const shown: Record<string, string> = {
      "/": "gpu-summary",
      "/nodes": "nodes-table",
      "/jobs": "jobs-table",
      "/models": "models",
      "/serving": "services",
    };
    const content =
      area.path === "/admin"
        ? page.getByRole("heading", { name: "Audit log" })
        : page.getByTestId(shown[area.path]);
    await expect(content).toContainText(/\w+/);
    await expect(shell.nav.getByRole("link", { name: area.link, exact: true })).toHaveAttribute("aria-current", "page");
  }
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test("a page's code is fetched when the page is first shown, not in every page's first load", async ({ shell, page }) => {
  const fetched: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".wasm")) fetched.push(path);
  });
  await shell.open("/nodes");
  // The page names its own chunks beside the main module, so they load at once, not after it.
  const preloaded = await page
    .locator('link[rel="preload"][href$=".wasm"]')
    .evaluateAll((links) => links.map((link) => new URL((link as HTMLLinkElement).href).pathname));
  expect(preloaded.length, "the main module and the page's chunks").toBeGreaterThan(1);
  const seen = new Set(fetched);

  await shell.nav.getByRole("link", { name: "Training jobs", exact: true }).click();
  await expect(shell.heading).toHaveText("Training jobs");
  await expect(page.getByTestId("jobs-table")).toBeVisible();
  const jobsChunks = fetched.filter((path) => !seen.has(path));
  expect(jobsChunks.length, "the jobs page's code, fetched on the way there").toBeGreaterThan(0);
  expect(jobsChunks.filter((path) => preloaded.includes(path))).toEqual([]);
  // Its own chunk among them (wasm-split names a page's chunk after its route).
  expect(jobsChunks.some((path) => path.includes("/split___jobs_route_view_"))).toBe(true);
  expect(preloaded.some((path) => path.includes("/split___nodes_route_view_"))).toBe(true);

  // Back to a page whose code is here already: nothing more to fetch.
  const before = fetched.length;
  await shell.nav.getByRole("link", { name: "GPU nodes", exact: true }).click();
  await expect(page.getByTestId("nodes-table")).toBeVisible();
  expect(fetched.slice(before)).toEqual([]);
});

test("a page whose code is gone (a newer version deployed since it opened) is loaded again, once", async ({ shell, page, expectedConsoleErrors }) => {
  // The failed fetch and the panic it causes are logged before the page loads again.
  // (The panic stops the wasm with an `unreachable` trap.)
  expectedConsoleErrors.push(/404|load callback should succeed|WebAssembly|Failed to execute|unreachable/);
  await shell.open("/nodes");
  await page.evaluate(() => ((window as any).__sameDocument = true));
  // The jobs page's chunk answers 404 once, as a new version's server answers the old names.
  await page.route(/\/pkg\/split___jobs_route_view_[^/]*\.wasm$/, (route) => route.fulfill({ status: 404, body: "" }), {
    times: 1,
  });
  await shell.nav.getByRole("link", { name: "Training jobs", exact: true }).click();
  await expect(page).toHaveURL("/jobs");
  await expect(page.getByTestId("jobs-table")).toBeVisible();
  await shell.waitForHydration();
  // Loaded anew: the marker of the old document is gone, and the page works.
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBeUndefined();
  await shell.nav.getByRole("link", { name: "GPU nodes", exact: true }).click();
  await expect(page.getByTestId("nodes-table")).toBeVisible();
});

test("hydration: the theme toggle switches and is remembered across reloads", async ({ shell, page }) => {
  await shell.open("/nodes");
  await page.evaluate(() => ((window as any).__sameDocument = true));
  expect(await shell.theme()).toBe("system");
  await expect(shell.themeToggle).toHaveText("Theme: system");

  await shell.themeToggle.click();
  await expect(shell.themeToggle).toHaveText("Theme: light");
  expect(await shell.theme()).toBe("light");
  await shell.themeToggle.click();
  await expect(shell.themeToggle).toHaveText("Theme: dark");
  expect(await shell.theme()).toBe("dark");
  // The click changed the page without reloading it: the wasm is in charge.
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe("rgb(17, 20, 24)");

  // Remembered: the server renders the dark theme straight away on the next visit.
  await shell.open("/jobs");
  expect(await shell.theme()).toBe("dark");
  await expect(shell.themeToggle).toHaveText("Theme: dark");
});

test("follows the system's dark preference until the user chooses", async ({ shell, page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await shell.open("/");
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe("rgb(17, 20, 24)");
  await page.emulateMedia({ colorScheme: "light" });
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(light).toBe("rgb(246, 247, 249)");
});

test("?embed=1 renders the page without navigation chrome", async ({ shell, page }) => {
  await shell.open("/jobs?embed=1");
  await expect(shell.heading).toHaveText("Training jobs");
  await expect(shell.nav).toHaveCount(0);
  await expect(page.locator("header.topbar")).toHaveCount(0);
  await expect(shell.themeToggle).toHaveCount(0);
});

test("?embed=1&theme=dark lets a portal choose the theme", async ({ shell }) => {
  await shell.open("/models?embed=1&theme=dark");
  expect(await shell.theme()).toBe("dark");
});

test("on a narrow screen the navigation folds behind the Menu button", async ({ shell, page }) => {
  await page.setViewportSize({ width: 360, height: 640 });
  await shell.open("/");
  const serving = shell.nav.getByRole("link", { name: "Serving", exact: true });
  await expect(serving).toBeHidden();
  await shell.menuToggle.click();
  await expect(shell.menuToggle).toHaveAttribute("aria-expanded", "true");
  await serving.click();
  await expect(page).toHaveURL("/serving");
  await expect(shell.heading).toHaveText("Serving");
  await expect(serving).toBeHidden();
  // Nothing overflows sideways in a 360 px frame.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test("connected to the local cluster, the header shows its context and version", async ({ shell, page }) => {
  test.skip(!!noCluster, noCluster);
  await shell.open("/");
  const badge = page.locator(".cluster-badge");
  await expect(badge).toContainText("gantry-local");
  await expect(badge).toContainText("v1.36.3");
  await expect(page.getByTestId("cluster-banner")).toHaveCount(0);
});

test("without a cluster the shell says so and why", async ({ anonymous: shell, page, expectedConsoleErrors }) => {
  // The overview asks for GPU totals, which need the cluster: 503, said on the page.
  expectedConsoleErrors.push(/status of 503/);
  await shell.login(undefined, offlineURL);
  await shell.open(`${offlineURL}/`);
  const banner = page.getByTestId("cluster-banner");
  await expect(banner).toContainText("Not connected to Kubernetes");
  await expect(banner).toContainText("no-kubeconfig");
  await expect(page.locator(".cluster-badge")).toContainText("not connected");
});

test("an unknown page answers 404 with a clear message", async ({ shell, page, expectedConsoleErrors }) => {
  expectedConsoleErrors.push(/status of 404/);
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await shell.waitForHydration();
  await expect(page.getByRole("alert")).toContainText("this page not found");
});
