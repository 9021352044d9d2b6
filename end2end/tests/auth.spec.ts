// Logging in and out as a person does, and what the server does about wrong passwords,
// idle sessions and the audit trail.
import { test, expect } from "./fixtures";
import { admin, shortSessionIdleSecs, shortSessionURL } from "../servers";

test("a page asked for before logging in opens after logging in", async ({ anonymous: shell, page }) => {
  await page.goto("/jobs");
  await expect(page).toHaveURL("/login?next=%2Fjobs");
  await shell.waitForHydration();
  await expect(page.getByRole("navigation", { name: "Main" })).toHaveCount(0);
  await page.getByLabel("Username").fill(admin.username);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL("/jobs");
  await expect(shell.heading).toHaveText("Training jobs");
  await expect(page.getByTestId("user")).toContainText(admin.displayName);
  await expect(page.getByTestId("user")).toContainText("ops-admin");
});

test("a wrong password is refused without saying which part was wrong", async ({
  anonymous: shell,
  page,
  expectedConsoleErrors,
}) => {
  expectedConsoleErrors.push(/status of 401/);
  await shell.open("/login");
  await page.getByLabel("Username").fill(admin.username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("wrong username or password");
  await page.getByLabel("Username").fill("nobody-by-this-name");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("wrong username or password");
  await expect(page).toHaveURL(/\/login/);
});

test("repeated failures for one account are rate-limited", async ({
  anonymous: shell,
  page,
  expectedConsoleErrors,
}) => {
  expectedConsoleErrors.push(/status of 401/, /status of 429/);
  await shell.open("/login");
  // An account of its own, so that other tests' logins as admin are not held up.
  await page.getByLabel("Username").fill("mallory");
  for (let i = 0; i < 5; i++) {
    const refused = page.waitForResponse("**/api/login");
    await page.getByLabel("Password").fill(`guess number ${i}`);
    await page.getByRole("button", { name: "Log in" }).click();
    expect((await refused).status()).toBe(401);
  }
  const response = page.waitForResponse("**/api/login");
  await page.getByLabel("Password").fill("guess number 6");
  await page.getByRole("button", { name: "Log in" }).click();
  expect((await response).status()).toBe(429);
  expect(Number((await response).headers()["retry-after"])).toBeGreaterThan(0);
  await expect(page.getByTestId("login-error")).toContainText("too many failed attempts");
});

test("logging out ends the session on the server", async ({ shell, page }) => {
  await shell.open("/nodes");
  const cookie = (await page.context().cookies()).find((c) => c.name === "gantry_session");
  expect(cookie?.httpOnly).toBe(true);
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL("/login");
  // The old cookie, replayed, is worth nothing: the session is gone from the database.
  await page.context().addCookies([cookie!]);
  await page.goto("/nodes");
  await expect(page).toHaveURL("/login?next=%2Fnodes");
});

test("an idle session expires", async ({ anonymous: shell, page }) => {
  await shell.login(admin, shortSessionURL);
  await shell.open(`${shortSessionURL}/jobs`);
  await expect(shell.heading).toHaveText("Training jobs");
  await page.waitForTimeout((shortSessionIdleSecs + 1) * 1000);
  await page.goto(`${shortSessionURL}/jobs`);
  await expect(page).toHaveURL(`${shortSessionURL}/login?next=%2Fjobs`);
});

test("logins, failures and logouts are in the audit log", async ({
  anonymous: shell,
  page,
  expectedConsoleErrors,
}) => {
  expectedConsoleErrors.push(/status of 401/);
  await shell.open("/login");
  await page.getByLabel("Username").fill("audited-nobody");
  await page.getByLabel("Password").fill("a wrong password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("wrong username or password");
  await shell.login();
  await shell.open("/admin");
  const audit = page.getByRole("region", { name: "Audit log" });
  await audit.getByLabel("User").fill("audited-nobody");
  await audit.getByLabel("User").press("Enter");
  const rows = page.getByTestId("audit-table").locator("tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("login.failed");
  await expect(rows.first()).toContainText("denied");
  await audit.getByLabel("User").fill("admin");
  await audit.getByLabel("User").press("Enter");
  await audit.getByLabel("Action").fill("login");
  await audit.getByLabel("Action").press("Enter");
  await expect(rows.first()).toContainText("account/admin");

  // The link carries the filters; what it downloads, fetched with the page's session:
  const link = page.getByRole("link", { name: "Export CSV" });
  await expect(link).toHaveAttribute("download", "gantry-audit.csv");
  await expect(link).toHaveAttribute("href", "/admin/audit.csv?actor=admin&action=login");
  const response = await page.request.get((await link.getAttribute("href"))!);
  expect(response.headers()["content-type"]).toBe("text/csv; charset=utf-8");
  const text = await response.text();
  expect(text.split("\r\n")[0]).toBe("id,at,actor,action,object,detail,result,client");
  expect(text).toContain(",admin,login,account/admin,,ok,");
});
