// Shared by the browser tests: headless Debian Chromium through
// playwright-core (no downloaded browsers), and a static file server.

import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { tmpdir } from 'node:os';

// What Chromium needs to run headless as root in a container, quietly.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh browser context on its own --user-data-dir; `close()` removes it. */
export async function launch({ javaScriptEnabled = true } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'allele-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.ALLELE_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    javaScriptEnabled,
    timeout: 60_000,
  });
  context.setDefaultTimeout(30_000);
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Serves `root` read-only on 127.0.0.1; resolves to `{url, close}`. */
export function serveStatic(root) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root) + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

/** Reads the JSON job the Rust test wrote, runs `body`, prints its answer. */
export async function main(body) {
  const job = JSON.parse(await readFile(process.argv[2], 'utf8'));
  const answer = await body(job);
  process.stdout.write(JSON.stringify(answer));
}
