// The console's Commands tab in a real browser (Debian's Chromium driven by
// playwright-core) against a running fleetjobs. Run by
// crates/host/tests/console_commands.rs, which starts the host, registers
// the two things below and connects a simulated device for the first.
//
// Environment: FLEETJOBS_URL (http://127.0.0.1:PORT), FLEETJOBS_API_TOKEN,
// SCREENSHOT_DIR (one PNG per step, `commands-NN-<step>.png`), CHROMIUM
// (/usr/bin/chromium), ANSWERING_THING (its device answers every command
// SUCCEEDED with a result) and SILENT_THING (no device: its commands stay
// SENT until canceled).
//
// Each step prints "STEP <name>"; the exit status says whether all passed.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env('FLEETJOBS_URL');
const TOKEN = env('FLEETJOBS_API_TOKEN');
const SCREENSHOTS = env('SCREENSHOT_DIR');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const ANSWERING_THING = env('ANSWERING_THING');
const SILENT_THING = env('SILENT_THING');
const TIMEOUT = 30_000;
const EXECUTION_ID = /\/console\/commands\/[0-9a-f-]{36}$/;

mkdirSync(SCREENSHOTS, { recursive: true });

/** The API, as the harness sees it (to check what the console did). */
async function api(path) {
  const response = await fetch(`${BASE}/api/v1${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return response.json();
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

let stepNumber = 0;
let page;

async function step(name, body) {
  stepNumber += 1;
  const label = `commands-${String(stepNumber).padStart(2, '0')}-${name}`;
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
const row = (table, name) =>
  page
    .getByRole('table', { name: table, exact: true })
    .getByRole('row')
    .filter({ has: page.getByRole('cell').first().getByText(name, { exact: true }) });

/** The page as it is now passes axe-core's WCAG 2.1 A and AA rules. */
async function accessible() {
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

/** Replaces the content of the CodeMirror Parameters editor. */
async function typeParameters(text) {
  const editor = page.getByRole('textbox', { name: 'Parameters' });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  // CodeMirror closes brackets and quotes as one types: insert as a paste.
  await page.keyboard.insertText(text);
}

/** Fills the Send Command form (Thing, Action, TTL; Parameters when given). */
async function fillForm({ thing, action, ttl, parameters }) {
  const thingField = page.getByRole('combobox', { name: 'Thing', exact: true });
  await thingField.fill(thing);
  await page.keyboard.press('Escape');
  await page.getByRole('textbox', { name: 'Action', exact: true }).fill(action);
  await page.getByRole('textbox', { name: 'TTL', exact: true }).fill(String(ttl));
  if (parameters !== undefined) await typeParameters(parameters);
}

/** The page was never reloaded since `markPage()`. */
const markPage = () => page.evaluate(() => (window.__notReloaded = true));
const notReloaded = async () => check(await page.evaluate(() => window.__notReloaded === true), 'the page was reloaded');

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
    // The browser logs every refused request (the unknown thing), which the
    // steps provoke on purpose.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });

  await step('sign-in-and-open-the-commands-tab', async () => {
    await page.goto(`${BASE}/console/`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { name: 'Jobs', level: 2 }).waitFor();
    await page.getByRole('tab', { name: 'Commands' }).click();
    await page.waitForURL(/\/console\/commands$/);
    await page.getByRole('tab', { name: 'Commands', selected: true }).waitFor();
    await page.getByRole('heading', { name: 'Commands', level: 2 }).waitFor();
    for (const column of ['Execution ID', 'Things', 'Action', 'Status', 'Created At']) {
      await page.getByRole('columnheader', { name: column, exact: true }).waitFor();
    }
    await page.getByText('No commands yet: send one with + Send Command.').waitFor();
    await markPage();
    await accessible();
  });

  let answeredId;
  await step('send-command-to-a-connected-device', async () => {
    await page.getByRole('link', { name: '+ Send Command' }).click();
    await page.getByRole('heading', { name: 'Send Command', level: 2 }).waitFor();
    await page.getByRole('combobox', { name: 'Thing', exact: true }).waitFor();
    for (const label of ['Action', 'TTL']) await page.getByRole('textbox', { name: label, exact: true }).waitFor();
    await page.getByRole('textbox', { name: 'Parameters' }).waitFor();
    await fillForm({ thing: ANSWERING_THING, action: 'setTemperature', ttl: 30, parameters: '{"value": 24}' });
    await accessible();
    await page.getByRole('button', { name: 'Send Command' }).click();
    await page.waitForURL(EXECUTION_ID);
    answeredId = page.url().split('/').pop();
    await page.getByRole('heading', { name: 'setTemperature', level: 2 }).waitFor();
  });

  await step('command-succeeds-with-its-result', async () => {
    // The detail refreshes itself until the device's answer arrives.
    const heading = page.getByRole('heading', { name: 'setTemperature', level: 2 }).locator('..');
    await heading.getByText('SUCCEEDED', { exact: true }).waitFor();
    const result = page.getByLabel('Result', { exact: true });
    await result.getByText('"ok": true').waitFor();
    await result.getByText('"action": "setTemperature"').waitFor();
    await page.getByLabel('Parameters', { exact: true }).getByText('"value": 24').waitFor();
    await page.getByText(answeredId, { exact: true }).waitFor();
    await page.getByRole('link', { name: ANSWERING_THING, exact: true }).waitFor();
    await page.getByText('30 s', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).waitFor();
    check((await page.getByRole('button', { name: 'Cancel Command' }).count()) === 0, 'no Cancel when terminal');
    await notReloaded();
    await accessible();
  });

  await step('list-shows-it-succeeded-and-filters', async () => {
    await page.getByRole('link', { name: '← Commands' }).click();
    const commandRow = row('Commands', answeredId);
    await commandRow.getByText('SUCCEEDED').waitFor();
    await commandRow.getByText('setTemperature').waitFor();
    await commandRow.getByRole('link', { name: ANSWERING_THING }).waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('FAILED');
    await page.getByText('No command matches these filters.').waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('SUCCEEDED');
    await commandRow.waitFor();
    await page.getByLabel('Thing name', { exact: true }).fill(SILENT_THING);
    await page.getByText('No command matches these filters.').waitFor();
    await page.getByLabel('Thing name', { exact: true }).fill(ANSWERING_THING);
    await commandRow.waitFor();
    check(page.url().includes(`thingName=${ANSWERING_THING}`), `the filters are in the URL: ${page.url()}`);
    await notReloaded();
    await accessible();
  });

  await step('bad-parameters-show-an-error-and-send-nothing', async () => {
    const before = (await api('/commands')).commands.length;
    await page.getByRole('link', { name: '+ Send Command' }).click();
    await page.getByRole('heading', { name: 'Send Command', level: 2 }).waitFor();
    await fillForm({ thing: ANSWERING_THING, action: 'setTemperature', ttl: 30, parameters: '{"value": }' });
    await page.getByText(/^Syntax error:/).first().waitFor();
    await page.getByRole('button', { name: 'Send Command' }).click();
    await page.getByRole('alert').filter({ hasText: 'Fix the parameters first' }).waitFor();
    check(page.url().endsWith('/console/commands/new'), `still on the form, got ${page.url()}`);
    await page.waitForTimeout(500);
    check((await api('/commands')).commands.length === before, 'a command was sent with bad parameters');
  });

  await step('the-api-refusal-is-shown-next-to-the-form', async () => {
    const before = (await api('/commands')).commands.length;
    await typeParameters('{"value": 24}');
    await page.getByText(/^Syntax error:/).first().waitFor({ state: 'detached' });
    await page.getByRole('combobox', { name: 'Thing', exact: true }).fill('no-such-thing');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Send Command' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'The command was not sent' })
      .filter({ hasText: 'no-such-thing' })
      .waitFor();
    check((await page.getByRole('textbox', { name: 'Action', exact: true }).inputValue()) === 'setTemperature', 'the action was kept');
    check((await api('/commands')).commands.length === before, 'a refused command was sent');
    await accessible();
  });

  await step('cancel-a-command-nobody-answers-after-confirming', async () => {
    await page.getByRole('combobox', { name: 'Thing', exact: true }).fill(SILENT_THING);
    await page.keyboard.press('Escape');
    await page.getByRole('textbox', { name: 'Action', exact: true }).fill('reboot');
    await page.getByRole('textbox', { name: 'TTL', exact: true }).fill('600');
    await typeParameters('{}');
    await page.getByRole('button', { name: 'Send Command' }).click();
    await page.waitForURL(EXECUTION_ID);
    const id = page.url().split('/').pop();
    const heading = page.getByRole('heading', { name: 'reboot', level: 2 }).locator('..');
    await heading.getByText('SENT', { exact: true }).waitFor();
    await page.getByText('Waiting for the device to answer…').waitFor();
    check((await page.getByRole('button', { name: 'Delete' }).count()) === 0, 'no Delete while SENT');
    await page.getByRole('button', { name: 'Cancel Command' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel command' });
    await dialog.getByRole('button', { name: 'Confirm' }).waitFor();
    await accessible();
    check((await api(`/commands/${id}`)).status === 'SENT', 'nothing is canceled before Confirm');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    await heading.getByText('CANCELED', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).waitFor();
    check((await api(`/commands/${id}`)).status === 'CANCELED', 'the API has it CANCELED');
    await notReloaded();
  });

  check(pageErrors.length === 0, `errors on the page: ${pageErrors.join('; ')}`);
  console.log(`${stepNumber} passed, 0 failed`);
} catch (error) {
  console.error(error.stack ?? String(error));
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
