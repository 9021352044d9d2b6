// The page fixture every test uses: it fails the test on any console error or uncaught
// exception in the browser, and it knows Gantry's shell (navigation, theme, menu).
import { test as base, expect, type APIRequestContext, type Page, type Locator } from "@playwright/test";
import { admin } from "../servers";

export class Shell {
  readonly nav: Locator;
  readonly themeToggle: Locator;
  readonly menuToggle: Locator;
  readonly heading: Locator;

  constructor(readonly page: Page) {
    this.nav = page.getByRole("navigation", { name: "Main" });
    this.themeToggle = page.getByTestId("theme-toggle");
    this.menuToggle = page.getByTestId("menu-toggle");
    this.heading = page.getByRole("heading", { level: 1 });
  }

  /**
   * Logs in through the login page as a person does (as the first admin unless told
   * otherwise), on the server that `base` names (default: the test's baseURL).
   */
  async login(user: { username: string; password: string } = admin, base = "") {
    await this.page.goto(`${base}/login`);
    await this.waitForHydration();
    await this.page.getByLabel("Username").fill(user.username);
    await this.page.getByLabel("Password").fill(user.password);
    await this.page.getByRole("button", { name: "Log in" }).click();
    await expect(this.page).not.toHaveURL(/\/login/);
    await this.waitForHydration();
  }

  /** Opens `path` and waits until the wasm has hydrated the page. */
  async open(path: string) {
    await this.page.goto(path);
    await this.waitForHydration();
  }

  /** The wasm marks <body data-hydrated="true"> once event handlers are attached. */
  async waitForHydration() {
    await expect(this.page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }

  theme() {
    return this.page.locator("html").getAttribute("data-theme");
  }
}

export const test = base.extend<{
  shell: Shell;
  anonymous: Shell;
  consoleErrors: string[];
  expectedConsoleErrors: RegExp[];
}>({
  // A test that provokes an error on purpose (a 404 page) lists the message it expects here.
  expectedConsoleErrors: async ({}, use) => {
    await use([]);
  },
  consoleErrors: async ({ page, expectedConsoleErrors }, use) => {
    const errors: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    page.on("pageerror", (err) => errors.push(err.message));
    await use(errors);
    const unexpected = errors.filter((e) => !expectedConsoleErrors.some((re) => re.test(e)));
    expect(unexpected, "browser console errors").toEqual([]);
  },
  // Signed in as the first admin: what most tests start from.
  shell: async ({ page, consoleErrors }, use) => {
    void consoleErrors; // requested so that every test using the shell checks the console
    const shell = new Shell(page);
    await shell.login();
    await use(shell);
  },
  // Nobody signed in: for tests of logging in itself.
  anonymous: async ({ page, consoleErrors }, use) => {
    void consoleErrors;
    await use(new Shell(page));
  },
});

export { expect };

/** One MLflow API call as the signed-in browser session; fails the test on an error. */
export async function mlflow(request: APIRequestContext, base: string, path: string, data: object) {
  const response = await request.post(`/api/2.0/mlflow/${path}`, { data, headers: { Origin: base } });
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}
