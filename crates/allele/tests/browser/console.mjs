// The marketer's console in headless Chromium with JavaScript on: log in,
// the overview's uPlot chart draws from its table, profile search through
// the htmx-boosted form, a policy error shown inline (nothing published),
// publish, roll back with the Activate button — and no console error or
// content-security-policy violation on the way.

import { launch, main } from './lib.mjs';

await main(async ({ url, admin_key, user, bad_policy, good_policy }) => {
  const browser = await launch();
  const errors = [];
  const steps = {};
  try {
    const page = await browser.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('response', (response) => {
      if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
    });

    await page.goto(`${url}/`);
    steps.redirected_to = new URL(page.url()).pathname;
    await page.getByLabel('Admin key').fill(admin_key);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${url}/`);
    await page.locator('figure.timeseries .uplot canvas').first().waitFor();
    steps.chart = await page.evaluate(() => {
      const canvas = document.querySelector('figure.timeseries .uplot canvas');
      const rows = document.querySelectorAll('figure.timeseries tbody tr[data-x]').length;
      return { width: canvas.width, height: canvas.height, rows };
    });

    await page.getByRole('link', { name: 'Profiles' }).first().click();
    await page.waitForURL('**/profiles');
    await page.locator('input[name="q"]').fill(`user_id:${user}`);
    await page.locator('input[name="q"]').press('Enter');
    await page.waitForURL('**/profiles?q=*');
    steps.profile_text = await page.locator('main').innerText();

    await page.goto(`${url}/policies`);
    await page.getByLabel('Policy (YAML)').fill(bad_policy);
    await page.getByRole('button', { name: 'Check and diff' }).click();
    await page.getByRole('alert').waitFor();
    steps.error_text = await page.getByRole('alert').innerText();
    steps.active_after_error = await page.locator('#active-version').textContent();

    await page.getByLabel('Policy (YAML)').fill(good_policy);
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.waitForFunction(() => document.querySelector('#active-version')?.textContent === '2');
    steps.active_after_publish = await page.locator('#active-version').textContent();

    await page.getByRole('button', { name: 'activate version 1' }).click();
    await page.waitForFunction(() => document.querySelector('#active-version')?.textContent === '1');
    steps.active_after_rollback = await page.locator('#active-version').textContent();
  } finally {
    await browser.close();
  }
  return { steps, errors };
});
