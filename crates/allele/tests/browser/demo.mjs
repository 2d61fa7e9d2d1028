// `allele demo`'s console in headless Chromium: the holdout experiment's
// readout and its lift chart, and the edges page, read as a marketer sees
// them (the test compares them with the demo's summary and the API), with
// screenshots saved as artifacts.

import { launch, main } from './lib.mjs';
import { join } from 'node:path';

await main(async ({ url, admin_key, experiment, artifacts }) => {
  const browser = await launch();
  const errors = [];
  const seen = {};
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${url}/login`);
    await page.getByLabel('Admin key').fill(admin_key);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${url}/`);

    await page.goto(`${url}/experiments?${experiment}`);
    const chart = page.locator('figure svg').first();
    await chart.waitFor();
    seen.chart = await chart.evaluate((svg) => {
      const box = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll('line, rect, circle, path')].filter((m) => {
        const b = m.getBoundingClientRect();
        return b.width > 0 || b.height > 0;
      });
      return { width: box.width, height: box.height, marks: marks.length };
    });
    seen.variations = await page.evaluate(() => {
      const table = [...document.querySelectorAll('table')].find((t) => t.caption?.textContent === 'Per variation');
      return [...(table?.tBodies[0]?.rows ?? [])].map((row) => [...row.cells].map((cell) => cell.textContent.trim()));
    });
    await page.screenshot({ path: join(artifacts, 'demo-experiment.png'), fullPage: true });

    await page.getByRole('link', { name: 'Edges' }).first().click();
    await page.waitForURL('**/edges');
    seen.edges = await page.evaluate(() =>
      [...document.querySelectorAll('#edges tbody tr')].map((row) => [...row.cells].map((cell) => cell.textContent.trim())),
    );
    seen.learned = await page.evaluate(() =>
      [...document.querySelectorAll('#learned tbody tr')].map((row) => row.textContent.trim()),
    );
    await page.screenshot({ path: join(artifacts, 'demo-edges.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  return { seen, errors };
});
