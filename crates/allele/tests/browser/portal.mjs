// The `/me` portal in Chromium with JavaScript off: log in through the
// single-use link, change a consent and the contact limits through the
// plain forms, and audit the page's basic accessibility on the way.
//
// node portal.mjs JOB.json  (JOB: {login_url})

import { launch, main } from './lib.mjs';

// Run in the page (DevTools evaluation works with page scripts disabled):
// what a screen-reader or keyboard user would trip over.
function audit() {
  const problems = [];
  if (!document.documentElement.lang) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('page has no title');
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')];
  if (headings.filter((h) => h.tagName === 'H1').length !== 1) problems.push('not exactly one h1');
  let level = 0;
  for (const heading of headings) {
    const next = Number(heading.tagName[1]);
    if (next > level + 1) problems.push(`heading ${heading.tagName} skips a level: ${heading.textContent}`);
    if (!heading.textContent.trim()) problems.push(`empty ${heading.tagName}`);
    level = next;
  }
  for (const field of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = field.labels.length > 0 && [...field.labels].some((l) => l.textContent.trim());
    if (!labelled && !field.getAttribute('aria-label')) {
      problems.push(`unlabelled ${field.tagName.toLowerCase()} name=${field.name}`);
    }
  }
  for (const form of document.forms) {
    const submit = form.querySelector('button:not([type]), button[type=submit], input[type=submit]');
    if (!submit) problems.push(`form to ${form.getAttribute('action')} has no submit button`);
    if (!form.getAttribute('action') || form.method !== 'post') problems.push(`form ${form.getAttribute('action')} is not a POST with an action`);
  }
  for (const button of document.querySelectorAll('button')) {
    if (!button.textContent.trim()) problems.push('button without a name');
  }
  const names = [...document.querySelectorAll('button')].map((b) => b.textContent.trim());
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length) problems.push(`buttons share a name: ${repeated.join(', ')}`);
  for (const th of document.querySelectorAll('th')) {
    if (!th.textContent.trim()) problems.push('empty table header');
  }
  if (!document.querySelector('main')) problems.push('no main landmark');
  return problems;
}

await main(async (job) => {
  const browser = await launch({ javaScriptEnabled: false });
  try {
    const page = await browser.context.newPage();
    const landing = await page.goto(job.login_url);
    const steps = { landed: new URL(page.url()).pathname, status: landing.status() };
    const pages = [await page.content()];
    const problems = await page.evaluate(audit);

    // A consent, through the row's own button.
    await page.getByRole('button', { name: 'Withdraw dpv:DirectMarketing on email' }).click();
    await page.waitForURL('**/me');
    pages.push(await page.content());
    steps.after_consent = await page.locator('tr', { hasText: 'email' }).filter({ hasText: 'DirectMarketing' }).innerText();

    // Contact limits, through the limits form (other forms have "Until" too).
    const limits = page.locator('form', { has: page.getByRole('button', { name: 'Save limits' }) });
    await limits.getByLabel('Time zone (for example Europe/London)').fill('Europe/London');
    await limits.getByLabel('Quiet from').fill('21:00');
    await limits.getByLabel('until', { exact: true }).fill('08:00');
    await limits.getByLabel('At most this many marketing messages').fill('2');
    await limits.getByLabel('every (days)').fill('7');
    await limits.getByLabel('on', { exact: true }).selectOption('email');
    await limits.getByRole('button', { name: 'Save limits' }).click();
    await page.waitForURL('**/me');
    pages.push(await page.content());
    steps.limits_text = await page.locator('main').innerText();
    problems.push(...(await page.evaluate(audit)));

    // Erasure needs the box ticked: the browser itself holds the form back.
    await page.getByRole('button', { name: 'Erase me' }).click();
    await page.waitForTimeout(500);
    steps.after_unconfirmed_erase = new URL(page.url()).pathname;
    steps.erase_blocked = (await page.getByRole('heading', { name: 'Erased' }).count()) === 0;
    return { steps, problems, pages };
  } finally {
    await browser.close();
  }
});
