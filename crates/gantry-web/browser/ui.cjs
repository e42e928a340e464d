// End-to-end suite of the web interface in Debian's Chromium, driven by playwright-core.
// Started by scripts/browser-test.sh, which installs the tools and names them in
// GANTRY_BROWSER_TOOLS. It starts its own `gantry server`, walks through the main journeys,
// checks accessibility with axe-core on every main page, fails on any console error, and
// saves a screenshot of each main page into GANTRY_SCREENSHOTS. Playwright gives the browser
// a fresh profile directory of its own on every launch.
"use strict";

const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { spawn, execFileSync } = require("child_process");

const tools = process.env.GANTRY_BROWSER_TOOLS;
const bin = process.env.GANTRY_BIN;
const shots = process.env.GANTRY_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), "gantry-ui-"));
const shared = process.env.GANTRY_SHARED || path.resolve(__dirname, "../../../../shared");
const { chromium } = require(path.join(tools, "node_modules/playwright-core"));
const axeSource = fs.readFileSync(path.join(tools, "node_modules/axe-core/axe.min.js"), "utf8");

const ADMIN = "gty_browser_suite_admin_token_000000000000";
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["server", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
      env: { ...process.env, GANTRY_ADMIN_TOKEN: ADMIN, GANTRY_OUTBOUND_ALLOW_NETWORKS: "127.0.0.0/8",
        RUST_LOG: "warn" },
      stdio: ["ignore", "pipe", process.env.GANTRY_BROWSER_VERBOSE ? "inherit" : "ignore"],
    });
    child.stdout.on("data", (chunk) => {
      const m = /gantry listening on (http:\/\/\S+)/.exec(chunk.toString());
      if (m) resolve({ child, url: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`gantry server exited with ${code}`)));
  });
}

async function api(url, method, p, body) {
  const response = await fetch(url + p, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${p}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A webhook receiver on loopback that answers 200 and remembers what arrived.
function receiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { received.push({ headers: req.headers, body }); res.end("thanks"); });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, received })));
}

async function setup(url) {
  execFileSync(bin, ["vulndb", "import", path.join(shared, "osv/PyPI")], {
    env: { ...process.env, GANTRY_URL: url, GANTRY_TOKEN: ADMIN }, stdio: "ignore",
  });
  await api(url, "POST", "/api/v1/users", { name: "ada", password: "ada-password-1", site_admin: true });
  await api(url, "POST", "/api/v1/users", { name: "olga", password: "olga-password-1" });
  await api(url, "POST", "/api/v1/repos/acme", { name: "staging", private: true });
  await api(url, "POST", "/api/v1/repos/elsewhere", { name: "tools", private: true });
  await api(url, "PUT", "/api/v1/privileges/elsewhere", { principal: "user:olga", privilege: "admin" });
  await api(url, "POST", "/api/v1/policies/acme", {
    name: "no-known-vulnerabilities",
    rego: "package gantry\n\ndeny contains msg if {\n\tinput.event == \"promotion\"\n\tinput.package.num_vulnerabilities > 0\n" +
      "\tmsg := sprintf(\"%s %s has %d known vulnerabilities\", [input.package.name, input.package.version, input.package.num_vulnerabilities])\n}\n",
  });
}

function watch(page, label, expect404 = false) {
  page.on("console", (m) => {
    // The browser logs the document of a 404 page that the test asked for as an error.
    if (expect404 && /status of 404/.test(m.text())) return;
    // A refused form is shown again with the API's status (400, 409 …): the browser logs
    // that document's status too, while the page shows the reason. Only the page itself may.
    if (/status of 4\d\d/.test(m.text()) && m.location().url === page.url()) return;
    if (m.type() === "error") check(false, `${label}: console error ${m.text()}`);
  });
  page.on("pageerror", (e) => check(false, `${label}: page error ${e.message}`));
  page.on("dialog", (d) => d.accept());
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page, url, user, password) {
  await page.goto(`${url}/ui/-/sign-in`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL(`${url}/ui/`);
}

async function upload(page, url, file) {
  await page.goto(`${url}/ui/acme/dev/-/upload`);
  await page.getByLabel("Format").selectOption("python");
  await page.getByLabel("File", { exact: true }).setInputFiles(path.join(shared, "fixtures/python", file));
  await page.getByRole("button", { name: "Upload" }).click();
  await page.waitForURL(/notice=uploaded/);
  // The page refreshes itself until processing and scanning settle.
  // (Polled from here: the pages' CSP forbids the evaluation waitForFunction needs.)
  for (let i = 0; i < 60; i += 1) {
    await page.waitForTimeout(500);
    try {
      await page.waitForLoadState("load");
      if ((await page.locator("[data-live]").count()) === 0) return;
    } catch (_) { /* the page was reloading */ }
  }
  throw new Error(`${file} did not settle`);
}

async function journeys(browser, url, hooks) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, "ada");
  await signIn(page, url, "ada", "ada-password-1");
  check(await page.getByText("user:ada").isVisible(), "signed in as ada");
  await shot(page, "namespaces");

  await page.goto(`${url}/ui/acme`);
  await page.getByLabel("Name").fill("dev");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(`${url}/ui/acme/dev?notice=created`);
  check(page.url().endsWith("/ui/acme/dev?notice=created"), "created acme/dev through the form");

  await upload(page, url, "Jinja2-2.10-py2.py3-none-any.whl");
  const vulnerable = page.url().split("?")[0];
  check(await page.getByText("PYSEC-2019-217").isVisible(), "the wheel's advisories are listed");
  await shot(page, "package-vulnerable");

  await page.getByLabel("Destination").fill("staging");
  await page.getByRole("button", { name: "Check the gate" }).click();
  check(await page.getByText("Jinja2 2.10 has 2 known vulnerabilities").isVisible(), "the gate's reason is shown");
  check(!(await page.getByRole("button", { name: /Confirm/ }).count()), "a refused promotion cannot be confirmed");
  await shot(page, "promotion-refused");

  await page.goto(vulnerable);
  await page.getByRole("button", { name: "Quarantine" }).click();
  await page.waitForURL(/notice=quarantined/);
  check(await page.locator(".badge.state-quarantined").first().isVisible(), "quarantined");
  await page.getByRole("button", { name: "Release from quarantine" }).click();
  await page.waitForURL(/notice=released/);
  check(await page.locator(".badge.state-available").first().isVisible(), "released");

  await upload(page, url, "six-1.16.0-py2.py3-none-any.whl");
  check(await page.getByText("No known vulnerabilities.").isVisible(), "the clean wheel has no advisories");
  await page.getByLabel("Destination").fill("staging");
  await page.getByRole("button", { name: "Check the gate" }).click();
  check(await page.getByText("would promote").isVisible(), "the dry run lets the clean wheel through");
  await page.getByRole("button", { name: "Confirm the copy" }).click();
  await page.waitForURL(/\/ui\/acme\/staging\/.*notice=promoted/);
  check(await page.getByText("acme/dev → acme/staging").first().isVisible(), "the provenance timeline shows the copy");
  await shot(page, "package-provenance");

  await page.goto(`${url}/ui/acme`);
  check(await page.getByText("python 2 · ").isVisible(), "the namespace page shows each repository's formats and sizes");
  await shot(page, "namespace");

  await page.goto(`${url}/ui/acme/dev?q=&severity=high`);
  await shot(page, "repository-filtered");
  await page.goto(`${url}/ui/acme/dev`);
  const rows = await page.locator("tbody tr").count();
  check(rows === 2, `the repository lists its two packages (${rows})`);
  await shot(page, "repository");
  // A selection is promoted all or nothing: one refused package holds back the other.
  for (const box of await page.locator("input[name=slug]").all()) await box.check();
  await page.locator("fieldset").getByLabel("Destination").fill("staging");
  await page.getByRole("button", { name: "Check the gate" }).click();
  check(await page.getByText("1 of 2 packages would be refused").isVisible(), "the bulk dry run refuses the selection");
  check(!(await page.getByRole("button", { name: /Confirm/ }).count()), "a refused selection cannot be confirmed");

  await page.goto(`${url}/ui/acme/dev/-/webhooks`);
  await page.getByLabel("Target URL").fill(`http://127.0.0.1:${hooks.server.address().port}/hook`);
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/\/-\/webhooks\/\d+/);
  await page.getByRole("button", { name: "Send a ping" }).click();
  await page.waitForURL(/notice=pinged/);
  check(await page.locator("details summary").filter({ hasText: "ping" }).first().isVisible(), "the ping's delivery is listed");
  check(hooks.received.some((r) => r.headers["x-gantry-event"] === "ping"), "the receiver got the ping");
  await page.locator("details summary").first().click();
  await shot(page, "webhook-deliveries");

  await page.goto(vulnerable);
  await page.getByLabel("Add tags (comma-separated)").fill("reviewed");
  await page.getByRole("button", { name: "Update tags" }).click();
  await page.waitForURL(/notice=tags/);
  check(await page.getByText("reviewed").first().isVisible(), "a tag added from the package page");

  await page.goto(`${url}/ui/acme/-/policies/no-known-vulnerabilities`);
  await page.getByLabel("Rego").fill("package gantry\n\ndeny contains msg if {\n");
  await page.getByRole("button", { name: "Save" }).click();
  check(await page.locator("p.error").isVisible(), "the policy editor shows the compile error");
  check((await page.getByLabel("Rego").inputValue()).startsWith("package gantry"), "the editor keeps the rejected source");
  await shot(page, "policy-editor-error");
  await page.goto(`${url}/ui/acme/-/policies/no-known-vulnerabilities`);
  await page.getByLabel("Repository").fill("dev");
  await page.getByLabel("As a promotion to").fill("staging");
  await page.getByRole("button", { name: "Simulate" }).click();
  check(await page.getByText("2 packages evaluated, 1 denied.").isVisible(), "simulation against the repository's packages");
  await shot(page, "policy-simulation");
  await page.goto(`${url}/ui/acme/-/policies`);
  check(await page.getByText("promotion → acme/staging").first().isVisible(), "the decision log lists the promotion");
  await shot(page, "policies");

  await page.goto(`${url}/ui/acme/dev/-/automation`);
  await page.locator("form").filter({ hasText: "Add rule" }).getByLabel("Name").fill("dev-to-staging");
  await page.getByLabel("Condition").fill("max_severity < high");
  await page.locator("form").filter({ hasText: "Add rule" }).getByLabel("Destination").fill("staging");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.waitForURL(/notice=created/);
  check(await page.getByText("max_severity < high").isVisible(), "a promotion rule created");

  await administration(page, url);

  await page.goto(`${url}/ui/acme/-/security`);
  check(await page.locator("svg.chart rect").count() > 6, "the security chart has bars");
  await shot(page, "security");
  await page.goto(`${url}/ui/-/tokens`);
  await page.getByLabel("Description").fill("ci");
  await page.getByLabel(/^Scope/).fill("acme/dev");
  await page.getByLabel("Privilege").selectOption("write");
  await page.getByRole("button", { name: "Create" }).click();
  const secret = (await page.locator("#new-token").textContent()).trim();
  check(secret.startsWith("gty_"), "a new token's secret is shown once");
  const who = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.json());
  check(who.scope === "acme/dev" && who.privilege === "write", "the token has the scope and privilege chosen");
  // (Shown again without the secret, for the screenshot.)
  await page.goto(`${url}/ui/-/tokens`);
  await shot(page, "tokens");
  await page.goto(`${url}/ui/acme/-/audit`);
  await shot(page, "audit");
  await page.goto(`${url}/ui/acme/dev/-/upload`);
  await shot(page, "upload");

  const narrow = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
  const phone = await narrow.newPage();
  watch(phone, "narrow");
  await phone.goto(vulnerable);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the package page fits a narrow screen (overflow ${overflow}px)`);
  await shot(phone, "package-narrow");
  await narrow.close();
  const state = await context.storageState();
  await context.close();
  return { state, vulnerable };
}

// The administration pages: each acts through the API and shows what it did.
async function administration(page, url) {
  // The rule created above, changed in place to a Rego condition and paused.
  await page.goto(`${url}/ui/acme/dev/-/automation`);
  await page.getByRole("link", { name: "Edit" }).first().click();
  await page.getByLabel(/^Rego/).fill("package gantry\n\npromote if {\n");
  await page.getByRole("button", { name: "Save" }).click();
  check(await page.locator("p.error").isVisible(), "a rule with a broken Rego condition is refused with the reason");
  await page.getByLabel(/^Rego/).fill("package gantry\n\npromote if input.package.num_vulnerabilities == 0\n");
  await page.getByLabel("Enabled").uncheck();
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/automation\?notice=saved/);
  check(await page.getByRole("cell", { name: "Rego" }).isVisible() && await page.getByText("disabled").isVisible(),
    "the rule now has a Rego condition and is paused");
  await shot(page, "automation");

  await page.goto(`${url}/ui/acme/dev/-/settings`);
  await page.getByLabel("Description").fill("development builds");
  await page.getByLabel("Allowlist").fill("127.0.0.0/8\n10.0.0.0/8");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/settings\?notice=saved/);
  const repository = await api(url, "GET", "/api/v1/repos/acme/dev");
  check(repository.description === "development builds" && repository.ip_allowlist.length === 2, "settings saved through the API");
  await shot(page, "settings");

  await page.goto(`${url}/ui/acme/dev/-/retention`);
  await page.getByLabel("Name", { exact: true }).fill("keep-two");
  await page.getByLabel("Keep the newest (per name)").fill("2");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.waitForURL(/retention\?notice=created/);
  await page.getByRole("button", { name: "Dry run" }).click();
  check(await page.getByText("0 packages would be deleted.").isVisible(), "the retention dry run answers");
  await shot(page, "retention");

  await page.goto(`${url}/ui/acme/dev/-/exceptions`);
  await page.getByLabel("Advisory (id or alias)").fill("PYSEC-2019-217");
  await page.getByLabel(/^Status/).selectOption("not_affected");
  await page.getByLabel(/^Justification/).selectOption("vulnerable_code_not_in_execute_path");
  await page.getByLabel("Package name").fill("jinja2");
  await page.getByRole("button", { name: "Add exception" }).click();
  await page.waitForURL(/exceptions\?notice=created/);
  check(await page.getByRole("cell", { name: "PYSEC-2019-217" }).isVisible(), "a vulnerability exception added");
  await shot(page, "exceptions");

  await page.goto(`${url}/ui/acme/dev/-/entitlements`);
  await page.getByLabel("For (description)").fill("customer one");
  await page.getByLabel("Download limit").fill("10");
  await page.getByRole("button", { name: "Create" }).click();
  check(((await page.locator("#new-token").textContent()) || "").trim().startsWith("gty_"), "an entitlement's secret is shown once");
  await page.goto(`${url}/ui/acme/dev/-/entitlements`);
  await shot(page, "entitlements");

  await page.goto(`${url}/ui/acme/-/access`);
  await page.getByLabel("New team").fill("qa");
  await page.getByRole("button", { name: "Create team" }).click();
  await page.waitForURL(/access\?notice=saved/);
  await page.getByLabel("Who", { exact: true }).fill("team:qa");
  await page.getByLabel(/^Repository/).fill("staging");
  await page.getByLabel("Privilege").selectOption("write");
  await page.getByRole("button", { name: "Grant" }).click();
  await page.waitForURL(/access\?notice=saved/);
  check(await page.getByRole("cell", { name: "team:acme/qa" }).isVisible(), "a team created and granted write on acme/staging");
  await shot(page, "access");

  await page.goto(`${url}/ui/-/users`);
  check(await page.getByRole("cell", { name: "olga" }).isVisible(), "the site's users are listed");
  await shot(page, "users");
}

async function outsider(browser, url, vulnerable) {
  const context = await browser.newContext();
  const page = await context.newPage();
  watch(page, "olga", true);
  await signIn(page, url, "olga", "olga-password-1");
  const home = await page.content();
  check(home.includes("elsewhere") && !home.includes("acme"), "olga's start page lists only her namespace");
  for (const p of ["/ui/acme", "/ui/acme/dev", vulnerable.replace(url, "")]) {
    const response = await page.goto(url + p);
    const text = await page.content();
    check(response.status() === 404 && !text.includes("Jinja2") && !text.includes("staging"), `olga gets a bare 404 for ${p}`);
  }
  await context.close();
}

// axe-core in a context that bypasses CSP for the injection only; the pages' own policy
// stays as strict as it is everywhere else.
async function accessibility(browser, url, state, vulnerable) {
  const context = await browser.newContext({ bypassCSP: true, storageState: state });
  const page = await context.newPage();
  const pages = ["/ui/", "/ui/acme", "/ui/acme/dev", vulnerable.replace(url, ""), "/ui/acme/dev/-/upload",
    "/ui/acme/-/security", "/ui/acme/dev/-/webhooks", "/ui/-/tokens", "/ui/acme/-/audit",
    "/ui/acme/-/policies", "/ui/acme/-/policies/no-known-vulnerabilities", "/ui/acme/dev/-/automation",
    "/ui/acme/dev/-/automation/rules/dev-to-staging", "/ui/acme/dev/-/settings", "/ui/acme/dev/-/retention",
    "/ui/acme/dev/-/exceptions", "/ui/acme/dev/-/entitlements", "/ui/acme/-/access", "/ui/-/users"];
  for (const p of pages) {
    await page.goto(url + p);
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    check(bad.length === 0, `axe: no serious or critical violations on ${p}` +
      (bad.length ? ` — ${bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`).join("; ")}` : ""));
  }
  const anonymous = await browser.newContext({ bypassCSP: true });
  const signin = await anonymous.newPage();
  await signin.goto(`${url}/ui/-/sign-in`);
  await shot(signin, "sign-in");
  await signin.addScriptTag({ content: axeSource });
  const result = await signin.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe: no serious or critical violations on the sign-in page ${bad.map((v) => v.id).join(", ")}`);
  await anonymous.close();
  await context.close();
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-browser-data-"));
  const { child, url } = await startServer(dataDir);
  const hooks = await receiver();
  let browser;
  try {
    await setup(url);
    browser = await chromium.launch({
      executablePath: process.env.GANTRY_CHROMIUM || "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const { state, vulnerable } = await journeys(browser, url, hooks);
    await outsider(browser, url, vulnerable);
    await accessibility(browser, url, state, vulnerable);
  } catch (error) {
    failures.push(String(error && error.stack || error));
    console.error(error);
  } finally {
    if (browser) await browser.close();
    hooks.server.close();
    child.kill("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`screenshots in ${shots}`);
  if (failures.length) {
    console.error(`${failures.length} failure(s):\n${failures.join("\n")}`);
    process.exit(1);
  }
}

main();
