// API tokens as a person makes them for a CI pipeline: created, shown once, used, revoked.
import { test, expect } from "./fixtures";
import { request as playwrightRequest } from "@playwright/test";

test("a token is shown once, acts as its owner, and stops working when revoked", async ({ shell, page, baseURL }) => {
  await shell.open("/");
  await page.getByTestId("user").getByRole("link", { name: "API tokens" }).click();
  await expect(shell.heading).toHaveText("API tokens");
  const name = `ci-${Date.now() % 100000}`;
  const form = page.getByRole("form", { name: "New token" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Expires after").fill("90");
  await form.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!;
  expect(token).toMatch(/^gantry_[0-9a-f]{64}$/);
  const row = page.locator(`tr[data-token="${name}"]`);
  await expect(row).toContainText(token.slice(0, 14));
  await expect(row).not.toContainText(token);

  // A pipeline, with no cookies: the token alone says who it is.
  const ci = await playwrightRequest.newContext({ baseURL });
  const me = await ci.post("/api/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).username).toBe("admin");

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  const after = await ci.post("/api/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  await ci.dispose();
});
