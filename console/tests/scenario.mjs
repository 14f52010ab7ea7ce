// What the browser scenarios share: their environment, Chromium, the page,
// steps with a screenshot each, and checks (the API as the harness sees it,
// accessibility, tables, the CodeMirror editors).
//
// Environment: FLEETJOBS_URL (http://127.0.0.1:PORT), FLEETJOBS_API_TOKEN,
// SCREENSHOT_DIR (one PNG per step, named after it) and CHROMIUM
// (/usr/bin/chromium).

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
export const BASE = env('FLEETJOBS_URL');
export const TOKEN = env('FLEETJOBS_API_TOKEN');
export const SCREENSHOTS = env('SCREENSHOT_DIR');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
export const TIMEOUT = 30_000;

mkdirSync(SCREENSHOTS, { recursive: true });

/** The API, as the harness sees it (to check what the console did). */
export async function api(path) {
  const response = await fetch(`${BASE}/api/v1${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return response.json();
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** The browser page the steps drive (set by `run`). */
export let page;
/** How many steps have started. */
export let stepNumber = 0;
let labelPrefix = '';

/** The current step's screenshot name, with `suffix`. */
export const stepLabel = (suffix) => `${labelPrefix}${String(stepNumber).padStart(2, '0')}-${suffix}`;

/** Runs one step and saves its screenshot (`…-FAILED.png` when it fails). */
export async function step(name, body) {
  stepNumber += 1;
  const label = stepLabel(name);
  console.log(`STEP ${label}`);
  try {
    await body();
  } catch (error) {
    await page?.screenshot({ path: join(SCREENSHOTS, `${label}-FAILED.png`), fullPage: true }).catch(() => {});
    throw new Error(`step ${label}: ${error.message}`, { cause: error });
  }
  // From the top, so the fixed header sits where it belongs in the full page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${label}.png`), fullPage: true, animations: 'disabled' });
}

/** A row of the table named `table` whose first cell is `name`. */
export const row = (table, name) =>
  page
    .getByRole('table', { name: table, exact: true })
    .getByRole('row')
    .filter({ has: page.getByRole('cell').first().getByText(name, { exact: true }) });

/** The page as it is now passes axe-core's WCAG 2.1 A and AA rules (labels,
 * names, roles, contrast...). */
export async function accessible() {
  await page.evaluate(AXE);
  const { violations } = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  );
  check(
    violations.length === 0,
    `accessibility: ${violations
      .map((v) => `${v.id} (${v.help}): ${v.nodes.slice(0, 3).map((n) => n.html).join(' | ')}`)
      .join('; ')}`,
  );
}

/** Replaces the content of the CodeMirror editor labelled `label`. */
export async function typeInto(label, text) {
  const editor = page.getByRole('textbox', { name: label });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  // CodeMirror closes brackets and quotes as one types: insert as a paste.
  await page.keyboard.insertText(text);
}

/** Runs `steps` in a fresh 1280×800 page of Chromium, screenshots named
 * `${prefix}NN-<step>.png`, then exits: 0 when every step passed and the
 * page logged no error. */
export async function run(prefix, steps) {
  labelPrefix = prefix;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The test runs as root in CI, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  let exitCode = 0;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    context.setDefaultTimeout(TIMEOUT);
    page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // The browser logs every refused request (a wrong token, an unknown
      // thing), which the steps provoke on purpose.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(message.text());
      }
    });
    await steps();
    check(pageErrors.length === 0, `errors on the page: ${pageErrors.join('; ')}`);
    console.log(`${stepNumber} passed, 0 failed`);
  } catch (error) {
    console.error(error.stack ?? String(error));
    exitCode = 1;
  } finally {
    await browser.close();
  }
  process.exit(exitCode);
}
