// An internal portal shows a Gantry page in an iframe, and the user logs in inside it. Only
// portals listed in GANTRY_EMBED_ORIGINS may do so; CSRF protection stays on regardless.
import { test, expect } from "./fixtures";
import { admin, embeddableURL, portalOrigin, unlistedPortalOrigin } from "../servers";

/** Opens the portal at `origin` (end2end/portal.mjs) framing Gantry's overview, chrome-less and dark. */
async function openPortal(page: import("@playwright/test").Page, origin: string) {
  const src = encodeURIComponent(`${embeddableURL}/?embed=1&theme=dark`);
  await page.goto(`${origin}/portal?src=${src}`);
  return page.frameLocator('iframe[title="Gantry"]');
}

test("a listed portal frames Gantry and the user logs in inside the frame", async ({
  anonymous,
  page,
  context,
  expectedConsoleErrors,
}) => {
  void anonymous;
  // Browsers ignore `autofocus` inside a cross-origin frame, and say so.
  expectedConsoleErrors.push(/Blocked autofocusing/);
  const frame = await openPortal(page, portalOrigin);
  await expect(frame.locator("body")).toHaveAttribute("data-hydrated", "true");
  await frame.getByLabel("Username").fill(admin.username);
  await frame.getByLabel("Password").fill(admin.password);
  await frame.getByRole("button", { name: "Log in" }).click();
  await expect(frame.getByRole("heading", { level: 1 })).toHaveText("Overview");
  // Embedded: no navigation chrome, the portal's theme.
  await expect(frame.getByRole("navigation", { name: "Main" })).toHaveCount(0);
  await expect(frame.locator("html")).toHaveAttribute("data-theme", "dark");

  const cookie = (await context.cookies(embeddableURL)).find((c) => c.name === "gantry_session");
  expect(cookie?.sameSite).toBe("None");
  expect(cookie?.secure).toBe(true);
  expect(cookie?.httpOnly).toBe(true);
});

test("a portal that is not listed cannot frame Gantry", async ({ anonymous, page, expectedConsoleErrors }) => {
  void anonymous;
  expectedConsoleErrors.push(/frame-ancestors|Refused to frame/);
  const response = page.waitForResponse(`${embeddableURL}/**`);
  const frame = await openPortal(page, unlistedPortalOrigin);
  const policy = (await response).headers()["content-security-policy"];
  expect(policy).toContain(`frame-ancestors 'self' ${portalOrigin}`);
  // The browser refused to show it: nothing of Gantry inside the frame.
  await expect(frame.getByLabel("Username")).toHaveCount(0);
  await page.waitForTimeout(500);
  await expect(frame.getByLabel("Username")).toHaveCount(0);
});
