// Ops admins manage accounts in the Admin area; what a role may see follows at once.
import { test, expect } from "./fixtures";

// A username of its own per run of this file, so reruns against one server do not collide.
const alice = { username: `alice-${Date.now() % 100000}`, password: "alice's long password" };

test("an admin creates a data scientist, who sees no Admin area, until disabled", async ({
  shell,
  page,
  browser,
  expectedConsoleErrors,
}) => {
  expectedConsoleErrors.push(/status of 400/);
  await shell.open("/admin");
  const form = page.getByRole("form", { name: "New account" });

  // Bad input: the field and the reason are named, nothing is created.
  await form.getByLabel("Username").fill("Alice Smith");
  await form.getByLabel("Display name").fill("Alice");
  await form.getByLabel("Password", { exact: true }).fill(alice.password);
  await form.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("new-account-error")).toContainText("username: use 1 to 64 lower-case letters");
  await expect(page.getByTestId("accounts-table")).not.toContainText("Alice Smith");

  await form.getByLabel("Username").fill(alice.username);
  await form.getByLabel("Role").selectOption("data-scientist");
  await form.getByLabel("Namespaces").fill("team-a");
  await form.getByRole("button", { name: "Create account" }).click();
  const row = page.locator(`tr[data-username="${alice.username}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByLabel("Role")).toHaveValue("data-scientist");
  await expect(row.getByLabel("Namespaces")).toHaveValue("team-a");

  // Alice, in a browser of her own.
  const context = await browser.newContext();
  const alicePage = await context.newPage();
  const errors: string[] = [];
  alicePage.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await alicePage.goto("/login");
  await expect(alicePage.locator("body")).toHaveAttribute("data-hydrated", "true");
  await alicePage.getByLabel("Username").fill(alice.username);
  await alicePage.getByLabel("Password").fill(alice.password);
  await alicePage.getByRole("button", { name: "Log in" }).click();
  await expect(alicePage.getByTestId("user")).toContainText("data-scientist");
  const nav = alicePage.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Training jobs" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  // Typing the address does not help: the server refuses the data.
  await alicePage.goto("/admin");
  await expect(
    alicePage.getByRole("region", { name: "Accounts" }).locator(".notice-error"),
  ).toContainText("your role (data-scientist) may not administer Gantry");
  expect(errors.every((e) => /status of 403/.test(e))).toBe(true);

  // Disabled: her next request is anonymous.
  await row.getByLabel("Disabled").check();
  const saved = page.waitForResponse("**/api/accounts/update");
  await row.getByRole("button", { name: "Save" }).click();
  expect((await saved).status()).toBe(200);
  await expect(row.getByLabel("Disabled")).toBeChecked();
  await alicePage.goto("/jobs");
  await expect(alicePage).toHaveURL("/login?next=%2Fjobs");
  await context.close();

  // All of it is on the record.
  await page.getByRole("region", { name: "Audit log" }).getByLabel("Object").fill(alice.username);
  await page.getByRole("region", { name: "Audit log" }).getByLabel("Object").press("Enter");
  const audit = page.getByTestId("audit-table");
  await expect(audit).toContainText("account.create");
  await expect(audit).toContainText("account.update");
  await expect(audit).toContainText("disabled: false -> true");
});

test("an admin cannot lock themselves out", async ({ shell, page, expectedConsoleErrors }) => {
  expectedConsoleErrors.push(/status of 409/);
  await shell.open("/admin");
  const row = page.locator('tr[data-username="admin"]');
  await row.getByLabel("Role").selectOption("viewer");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("account-error")).toContainText("you cannot disable your own account");
  await shell.open("/admin");
  await expect(page.locator('tr[data-username="admin"]').getByLabel("Role")).toHaveValue("ops-admin");
});
