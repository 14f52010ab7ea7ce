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

import {
  BASE, TOKEN, accessible, api, check, env, page, row, run, step, typeInto,
} from './scenario.mjs';

const ANSWERING_THING = env('ANSWERING_THING');
const SILENT_THING = env('SILENT_THING');
const EXECUTION_ID = /\/console\/commands\/[0-9a-f-]{36}$/;

/** Replaces the content of the Parameters editor. */
const typeParameters = (text) => typeInto('Parameters', text);

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

await run('commands-', async () => {

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
});
