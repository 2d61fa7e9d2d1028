// The browser half of the parity test: the example page fetches the real
// bundle from a real allele server, verifies it, and decides; the Rust test
// compares every decision with the server's.
//
// node parity.mjs JOB.json  (JOB: {web_root, server, key, inputs, sweep})

import { launch, main, serveStatic } from './lib.mjs';

await main(async (job) => {
  const site = await serveStatic(job.web_root);
  const browser = await launch();
  const errors = [];
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });

    // 1. The example page, as a person would use it.
    await page.goto(`${site.url}/example/index.html?server=${encodeURIComponent(job.server)}`);
    await page.getByLabel('Decide key').fill(job.key);
    await page.getByRole('button', { name: 'Fetch and verify' }).click();
    await page.locator('#status.verified, #status.refused').waitFor();
    const verified = await page.locator('#status').textContent();
    await page.getByRole('button', { name: 'Decide' }).click();
    await page.locator('#decision').filter({ hasText: 'bundle_version' }).waitFor();
    const pageDecision = JSON.parse(await page.locator('#decision').textContent());

    // 2. The module itself on every case: decisions come back as the
    // engine's own JSON text, so nothing is rounded through JS numbers.
    const decided = await page.evaluate(async ({ server, key, inputs, sweep }) => {
      const allele = await import('/allele.js');
      const { engine, bundle } = await allele.connect(server, key);
      const decisions = inputs.map((input) => engine.decideText(input));
      const swept = sweep.seeds.map((seed) => {
        const input = JSON.parse(sweep.input);
        input.seed = seed;
        return engine.decideText(input);
      });
      let badInput = null;
      try {
        engine.decide({ profile: { id: 1 }, request: {} });
      } catch (error) {
        badInput = `${error.name}: ${error.message}`;
      }
      return { version: engine.version, workspace_salt: bundle.workspace_salt, decisions, swept, badInput };
    }, job);

    // 3. A bundle altered on the wire: the page must refuse it.
    await page.route(`${job.server}/v1/bundles/latest`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const doc = JSON.parse(body.bundle);
      doc.actions[0].value *= 10;
      body.bundle = JSON.stringify(doc);
      await route.fulfill({ response, json: body });
    });
    await page.reload();
    await page.getByLabel('Decide key').fill(job.key);
    await page.getByRole('button', { name: 'Fetch and verify' }).click();
    await page.locator('#status.verified, #status.refused').waitFor();
    const tampered = {
      status: await page.locator('#status').textContent(),
      refused: await page.locator('#status.refused').count() === 1,
      decide_disabled: await page.getByRole('button', { name: 'Decide' }).isDisabled(),
    };
    const tamperedModule = await page.evaluate(async ({ server, key }) => {
      const allele = await import('/allele.js');
      try {
        await allele.connect(server, key);
        return 'accepted';
      } catch (error) {
        return `${error.name}: ${error.message}`;
      }
    }, job);
    return { verified, page_decision: pageDecision, ...decided, tampered, tampered_module: tamperedModule, errors };
  } finally {
    await browser.close();
    await site.close();
  }
});
