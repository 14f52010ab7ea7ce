// The console in a real browser (Debian's Chromium driven by playwright-core)
// against a running fleetjobs. Run by crates/host/tests/console.rs, which
// starts the host, registers the things below and moves their executions
// with simulated devices when this script prints "READY devices".
//
// Environment: FLEETJOBS_URL (http://127.0.0.1:PORT), FLEETJOBS_API_TOKEN,
// SCREENSHOT_DIR (one PNG per step, named after it), CHROMIUM
// (/usr/bin/chromium), and the fixtures the harness made: JOB_THING (a thing
// to target by name), JOB_GROUP (a group to target) and JOB_GROUP_SIZE, and
// PAGED_JOB, an active job of PAGED_JOB_SIZE executions for the things
// PAGED_GROUP00000, PAGED_GROUP00001, ... (paging, one execution's actions,
// deletion), and IDLE_THING, the one target of BACKGROUND_JOB (CONTINUOUS).
//
// Each step prints "STEP <name>"; the exit status says whether all passed.

import { join } from 'node:path';
import {
  BASE, SCREENSHOTS, TIMEOUT, TOKEN, accessible, api, check, env, page, row, run, step, stepLabel,
  typeInto,
} from './scenario.mjs';

const JOB_THING = env('JOB_THING');
const JOB_GROUP = env('JOB_GROUP');
const JOB_GROUP_SIZE = Number(env('JOB_GROUP_SIZE'));
const PAGED_JOB = env('PAGED_JOB');
const PAGED_JOB_SIZE = Number(env('PAGED_JOB_SIZE'));
const PAGED_GROUP = env('PAGED_GROUP');
const IDLE_THING = env('IDLE_THING');
const BACKGROUND_JOB = env('BACKGROUND_JOB');
const JOB_NAME = 'Thermostat firmware 2.1.5';

/** Replaces the content of the Document editor. */
const typeDocument = (text) => typeInto('Document', text);

await run('', async () => {

  await step('sign-in-with-a-wrong-token', async () => {
    await page.goto(`${BASE}/console`);
    check(page.url() === `${BASE}/console/`, `/console redirects to /console/, got ${page.url()}`);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('That API token is not valid.').waitFor();
    await accessible();
  });

  await step('sign-in', async () => {
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { name: 'Jobs', level: 2 }).waitFor();
    await page.getByRole('tab', { name: 'Jobs', selected: true }).waitFor();
    await accessible();
  });

  const jobsBefore = (await api('/jobs')).jobs.length;

  await step('create-job-form', async () => {
    await page.getByRole('link', { name: '+ Create Job' }).click();
    await page.getByRole('heading', { name: 'Create Job' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(JOB_NAME);
    await page.getByLabel('Description', { exact: true }).fill('Firmware update to v2.1.5');
    const things = page.getByRole('combobox', { name: 'Target Things', exact: true });
    await things.fill('no-such-thing');
    await things.press('Enter');
    for (const section of ['Rollout rate', 'Abort criteria', 'Timeouts', 'Retries', 'Scheduling']) {
      await page.getByRole('button', { name: section }).waitFor();
    }
    await page.getByRole('button', { name: 'Timeouts' }).click();
    await page.getByLabel('In-progress timeout (minutes)').fill('60');
    await page.getByRole('button', { name: 'Rollout rate' }).click();
    await page.getByLabel('Maximum per minute').fill('100');
    await accessible();
  });

  await step('a-bad-document-shows-an-error-and-creates-nothing', async () => {
    await typeDocument('{"action": "updateFirmware", "version": }');
    await page.getByText(/^Syntax error:/).first().waitFor();
    await page.getByRole('button', { name: 'Create Job' }).click();
    await page.getByRole('alert').filter({ hasText: 'Fix the document first' }).waitFor();
    check(page.url().endsWith('/console/jobs/new'), `still on the form, got ${page.url()}`);
    check((await api('/jobs')).jobs.length === jobsBefore, 'a job was created from a bad document');
  });

  await step('the-api-refusal-is-shown-and-nothing-typed-is-lost', async () => {
    await typeDocument('{"action": "updateFirmware", "params": {"version": "2.1.5"}}');
    await page.getByText(/^Syntax error:/).first().waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Create Job' }).click();
    // The unknown thing: the API's 404 message, next to the form.
    await page
      .getByRole('alert')
      .filter({ hasText: 'The job was not created' })
      .filter({ hasText: 'no-such-thing' })
      .waitFor();
    check((await page.getByLabel('Name', { exact: true }).inputValue()) === JOB_NAME, 'the name was kept');
    check((await page.getByLabel('In-progress timeout (minutes)').inputValue()) === '60', 'the timeout was kept');
    check((await api('/jobs')).jobs.length === jobsBefore, 'a refused job was created');
  });

  let jobId;
  await step('create-job-for-a-thing-and-a-group', async () => {
    const things = page.getByRole('combobox', { name: 'Target Things', exact: true });
    // Backspace in the empty field takes the last thing off again.
    await things.click();
    await things.press('Backspace');
    await things.fill(JOB_THING.slice(0, -1));
    // Suggestions come from the registry.
    await page.getByRole('option', { name: JOB_THING, exact: true }).waitFor();
    await things.fill(JOB_THING);
    await things.press('Enter');
    const group = page.getByRole('combobox', { name: 'Group', exact: true });
    await group.click();
    await group.fill(JOB_GROUP.slice(0, 4));
    await page.getByRole('option', { name: JOB_GROUP, exact: true }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Create Job' }).click();
    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    jobId = page.url().split('/').pop();
    await page.getByRole('heading', { name: JOB_NAME, level: 2 }).waitFor();
  });

  const targets = 1 + JOB_GROUP_SIZE;
  await step('job-detail-has-a-row-per-target-device', async () => {
    await page.getByText(jobId, { exact: true }).waitFor();
    const rows = page.getByRole('table', { name: 'Executions', exact: true }).getByRole('row');
    // The header row and one per target.
    await page.waitForFunction(
      (count) =>
        document.querySelectorAll('table[aria-label="Executions"] tbody tr').length === count &&
        [...document.querySelectorAll('table[aria-label="Executions"] tbody tr')].every((tr) =>
          tr.textContent.includes('QUEUED'),
        ),
      targets,
      { timeout: TIMEOUT },
    );
    check((await rows.count()) === targets + 1, `${targets} execution rows`);
    await row('Executions', JOB_THING).getByText('QUEUED').waitFor();
    await page.getByText('"inProgressTimeoutInMinutes": 60').waitFor();
    await page.getByText('"maximumPerMinute": 100').waitFor();
    await accessible();
    await page.getByText('"version": "2.1.5"').waitFor();
  });

  await step('job-list-filtered-by-status-and-job-type', async () => {
    await page.getByRole('link', { name: '← Jobs' }).click();
    await page.getByRole('link', { name: JOB_NAME }).waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('COMPLETED');
    await page.getByText('No job matches these filters.').waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('IN_PROGRESS');
    await page.getByRole('link', { name: JOB_NAME }).waitFor();
    await page.getByLabel('Job Type', { exact: true }).selectOption('CONTINUOUS');
    await page.getByRole('link', { name: JOB_NAME }).waitFor({ state: 'detached' });
    await page.getByLabel('Job Type', { exact: true }).selectOption('SNAPSHOT');
    const jobRow = row('Jobs', JOB_NAME);
    await jobRow.waitFor();
    await jobRow.getByText('SNAPSHOT').waitFor();
    await jobRow.getByText('IN_PROGRESS').waitFor();
    await jobRow.getByText(`${targets} things`).waitFor();
    await jobRow.getByText(JOB_GROUP).waitFor();
    // Jobs that target a thing group.
    const group = page.getByRole('combobox', { name: 'Thing Group' });
    await group.click();
    await page.getByRole('option', { name: PAGED_GROUP, exact: true }).click();
    await page.getByRole('link', { name: JOB_NAME }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: PAGED_JOB, exact: true }).waitFor();
    await group.click();
    await page.getByRole('option', { name: JOB_GROUP, exact: true }).click();
    await jobRow.waitFor();
    await page.getByRole('link', { name: PAGED_JOB, exact: true }).waitFor({ state: 'detached' });
    await accessible();
  });

  await step('devices-move-executions-and-the-detail-follows-without-a-reload', async () => {
    await page.getByRole('link', { name: JOB_NAME }).click();
    await page.getByRole('heading', { name: JOB_NAME, level: 2 }).waitFor();
    await row('Executions', JOB_THING).getByText('QUEUED').waitFor();
    // The harness starts the simulated devices now; nothing reloads the page.
    console.log('READY devices');
    await row('Executions', JOB_THING).getByText('SUCCEEDED').waitFor({ timeout: 60_000 });
    await page.getByRole('table', { name: 'Executions', exact: true }).getByText('IN_PROGRESS').first().waitFor({ timeout: 60_000 });
    await page.getByRole('list', { name: 'Counters' }).getByText('SUCCEEDED').waitFor();
  });

  await step('execution-detail', async () => {
    await row('Executions', JOB_THING).getByRole('button', { name: JOB_THING }).click();
    const drawer = page.getByRole('dialog', { name: `Execution on ${JOB_THING}` });
    await drawer.getByText('SUCCEEDED').waitFor();
    await drawer.getByText('Status details').waitFor();
    await drawer.getByRole('table', { name: 'Status details' }).waitFor();
    await drawer.getByText('Version').waitFor();
    await accessible();
  });

  await step('cancel-with-force-after-confirming', async () => {
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Cancel Job' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel job' });
    await dialog.getByLabel('Comment').fill('Stopped from the console');
    await dialog.getByLabel('Force: also cancel IN_PROGRESS executions').check();
    await accessible();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: JOB_NAME, level: 2 }).locator('..').getByText('CANCELED').waitFor();
    // The hanging device's execution, IN_PROGRESS, is canceled too.
    await page.waitForFunction(
      () =>
        ![...document.querySelectorAll('table[aria-label="Executions"] tbody tr')].some((tr) =>
          /IN_PROGRESS|QUEUED/.test(tr.textContent),
        ),
      undefined,
      { timeout: TIMEOUT },
    );
    await page.getByText('USER_CANCEL · Stopped from the console').waitFor();
  });

  await step('delete-after-confirming', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete job' });
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/\/console\/jobs$/);
    await page.getByRole('heading', { name: 'Jobs', level: 2 }).waitFor();
    await page.getByRole('link', { name: JOB_NAME }).waitFor({ state: 'detached' });
    const left = (await api('/jobs')).jobs.map((j) => j.jobId);
    check(!left.includes(jobId), `the job is deleted (jobs: ${left})`);
  });

  await step('executions-are-paged-by-the-server', async () => {
    // A job of PAGED_JOB_SIZE things made by the harness: 50 executions a page.
    await page.goto(`${BASE}/console/jobs/${PAGED_JOB}`);
    const table = page.getByRole('table', { name: 'Executions', exact: true });
    const bodyRows = table.locator('tbody tr');
    const firstThing = async () => (await bodyRows.first().getByRole('cell').first().textContent()).trim();
    await page.getByText('Page 1', { exact: true }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Executions"] tbody tr').length === 50);
    const first = await firstThing();
    const pages = Math.ceil(PAGED_JOB_SIZE / 50);
    for (let n = 2; n <= pages; n += 1) {
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText(`Page ${n}`, { exact: true }).waitFor();
    }
    await page.waitForFunction(
      (last) => document.querySelectorAll('table[aria-label="Executions"] tbody tr').length === last,
      PAGED_JOB_SIZE - (pages - 1) * 50,
    );
    check(await page.getByRole('button', { name: 'Next' }).isDisabled(), 'no page after the last');
    check((await firstThing()) !== first, 'the last page holds other things');
    await page.getByLabel('Execution status').selectOption('SUCCEEDED');
    await page.getByText('No executions in SUCCEEDED.').waitFor();
    await page.getByText('Page 1', { exact: true }).waitFor();
    await page.getByLabel('Execution status').selectOption('');
  });

  await step('cancel-and-delete-one-execution', async () => {
    const [first, second] = [`${PAGED_GROUP}00000`, `${PAGED_GROUP}00001`];
    await row('Executions', first).getByRole('button', { name: first }).click();
    let drawer = page.getByRole('dialog', { name: `Execution on ${first}` });
    await drawer.getByRole('button', { name: 'Cancel execution' }).click();
    await drawer.getByRole('group', { name: 'Cancel execution' }).getByRole('button', { name: 'Confirm' }).click();
    await drawer.getByText('CANCELED').waitFor();
    await accessible();
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    await row('Executions', first).getByText('CANCELED').waitFor();

    await row('Executions', second).getByRole('button', { name: second }).click();
    drawer = page.getByRole('dialog', { name: `Execution on ${second}` });
    await drawer.getByRole('button', { name: 'Delete execution' }).click();
    await drawer.getByRole('group', { name: 'Delete execution' }).getByRole('button', { name: 'Confirm' }).click();
    await drawer.waitFor({ state: 'detached' });
    await row('Executions', second).waitFor({ state: 'detached' });
    await page.getByRole('list', { name: 'Counters' }).getByText(`total ${PAGED_JOB_SIZE - 1}`).waitFor();
  });

  await step('delete-an-active-job-with-force', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete job' });
    await dialog.getByLabel('Force: the job is still active').check();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/\/console\/jobs$/);
    await page.getByRole('link', { name: PAGED_JOB, exact: true }).waitFor({ state: 'detached' });
  });

  await step('things-create-shows-the-token-once', async () => {
    await page.getByRole('tab', { name: 'Things' }).click();
    await page.getByRole('heading', { name: 'Things', level: 2 }).waitFor();
    await page.getByLabel('Thing name').fill('console-new-thing');
    const attributes = page.getByRole('combobox', { name: 'Attributes' });
    await attributes.fill('model=t1000');
    await attributes.press('Enter');
    await page.getByRole('button', { name: 'Create Thing' }).click();
    const token = page.getByLabel('Device token');
    await token.waitFor();
    check(/^[0-9a-f]{64}$/.test((await token.textContent()).trim()), 'a device token is shown');
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await accessible();
  });

  await step('things-search', async () => {
    await page.getByLabel('Search things').fill('console-new');
    await row('Things', 'console-new-thing').getByText('model=t1000').waitFor();
    await row('Things', JOB_THING).waitFor({ state: 'detached' });
  });

  await step('things-delete', async () => {
    await page.getByRole('button', { name: 'Delete console-new-thing' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Nothing starts with “console-new”.').waitFor();
    const names = (await api('/things?namePrefix=console-new')).things;
    check(names.length === 0, 'the thing is deleted');
  });

  await step('thing-executions', async () => {
    await page.getByLabel('Search things').fill(IDLE_THING);
    await page.getByRole('link', { name: IDLE_THING, exact: true }).click();
    await page.getByRole('heading', { name: IDLE_THING, level: 2 }).waitFor();
    const attributes = page.getByRole('combobox', { name: 'Attributes' });
    await attributes.fill('site=lab');
    await attributes.press('Enter');
    await page.getByRole('button', { name: 'Save attributes' }).click();
    await page.getByText('Attributes: site=lab', { exact: true }).waitFor();
    await accessible();
    await page.getByText('version 2').waitFor();
    const execution = row('Executions of this thing', BACKGROUND_JOB);
    await execution.getByText('QUEUED').waitFor();
    const link = await execution.getByRole('link', { name: BACKGROUND_JOB }).getAttribute('href');
    check(link === `/console/jobs/${BACKGROUND_JOB}`, `the execution links to its job (${link})`);
  });

  await step('thing-groups-create-and-add-a-member', async () => {
    await page.getByRole('tab', { name: 'Thing Groups' }).click();
    await page.getByRole('heading', { name: 'Thing Groups', level: 2 }).waitFor();
    await page.getByLabel('Thing group name').fill('console lab (beta)');
    await page.getByLabel('Group description').fill('Made in the browser test');
    await page.getByRole('button', { name: 'Create Thing Group' }).click();
    await page.getByRole('heading', { name: 'console lab (beta)', level: 2 }).waitFor();
    await page.getByRole('combobox', { name: 'Add a thing' }).fill(JOB_THING);
    await page.getByRole('button', { name: 'Add to group' }).click();
    await row('Members', JOB_THING).waitFor();
    await accessible();
    // The thing's page lists the group too.
    await row('Members', JOB_THING).getByRole('link', { name: JOB_THING }).click();
    await page.getByRole('heading', { name: JOB_THING, level: 2 }).waitFor();
    await page.getByRole('list', { name: 'Groups of this thing' }).getByRole('link', { name: 'console lab (beta)' }).click();
    await page.getByRole('heading', { name: 'console lab (beta)', level: 2 }).waitFor();
  });

  await step('thing-groups-delete', async () => {
    await page.getByRole('link', { name: '← Thing Groups' }).click();
    await row('Thing Groups', 'console lab (beta)').waitFor();
    await page.getByRole('button', { name: 'Delete console lab (beta)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await row('Thing Groups', 'console lab (beta)').waitFor({ state: 'detached' });
    await row('Thing Groups', JOB_GROUP).waitFor();
  });

  await step('keyboard-only', async () => {
    // The section tabs move with the arrow keys; a dialog opens with Enter
    // and closes with Escape, giving the focus back.
    await page.getByRole('tab', { name: 'Thing Groups', selected: true }).focus();
    await page.keyboard.press('ArrowLeft');
    await page.getByRole('heading', { name: 'Things', level: 2 }).waitFor();
    await page.getByLabel('Thing name').focus();
    await page.keyboard.type('keyboard-thing');
    await page.keyboard.press('Enter');
    await page.getByLabel('Device token').waitFor();
    await page.getByLabel('Search things').focus();
    await page.keyboard.type('keyboard');
    const remove = page.getByRole('button', { name: 'Delete keyboard-thing' });
    await remove.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await remove.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('Nothing starts with “keyboard”.').waitFor();
  });

  await step('narrow-window', async () => {
    // Every page fits a phone's width (wide tables scroll inside their box).
    await page.setViewportSize({ width: 390, height: 844 });
    const pages = [
      ['create-job', 'jobs/new', 'Create Job'],
      ['job-detail', `jobs/${BACKGROUND_JOB}`, BACKGROUND_JOB],
      ['things', 'things', 'Things'],
      ['thing', `things/${IDLE_THING}`, IDLE_THING],
      ['thing-groups', 'thing-groups', 'Thing Groups'],
      ['jobs', 'jobs', 'Jobs'],
    ];
    for (const [name, path, heading] of pages) {
      await page.goto(`${BASE}/console/${path}`);
      await page.getByRole('heading', { name: heading, level: 2 }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `${path}: no horizontal scrolling of the page (${overflow}px)`);
      await page.screenshot({ path: join(SCREENSHOTS, `${stepLabel(`narrow-window-${name}`)}.png`), fullPage: true, animations: 'disabled' });
    }
    await accessible();
  });

  await step('sign-out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    check((await page.evaluate(() => sessionStorage.length)) === 0, 'the token is forgotten');
  });
});
