// The page fixture every test uses: it fails the test on any console error or uncaught
// exception in the browser, and it knows Gantry's shell (navigation, theme, menu).
import { test as base, expect, type Page, type Locator } from "@playwright/test";

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

export const test = base.extend<{ shell: Shell; consoleErrors: string[]; expectedConsoleErrors: RegExp[] }>({
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
  shell: async ({ page, consoleErrors }, use) => {
    void consoleErrors; // requested so that every test using the shell checks the console
    await use(new Shell(page));
  },
});

export { expect };
