// allele in the browser: verify the workspace's signed bundle, then decide
// locally with the same engine the server runs (compiled to wasm).
//
//   import { connect } from './allele.js';
//   const engine = await connect('https://allele.example.com', DECIDE_KEY);
//   const decision = engine.decide({ profile, request, now_ms, seed });
//
// Build web/pkg/ first with scripts/build-wasm.sh.

import init, { verifyBundle, engineVersion } from './pkg/allele_wasm.js';

let loading = null;

/** Loads the wasm module once; later calls share the same promise. */
export function load(wasmUrl) {
  loading ??= init(wasmUrl === undefined ? undefined : { module_or_path: wasmUrl });
  return loading;
}

/** Why the engine refused something (a bundle, a key, an input). */
export class AlleleError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'AlleleError';
  }
}

function reason(error) {
  return error instanceof Error ? error.message : String(error);
}

/** A verified bundle, ready to decide. */
export class Engine {
  #verified;

  constructor(verified) {
    this.#verified = verified;
  }

  /** The bundle version this engine decides with. */
  get version() {
    return this.#verified.version;
  }

  /**
   * Decides for `{profile, request, now_ms, seed, workspace_salt,
   * contact_history, customer_caps, arm_stats}` and answers the decision as
   * JSON text, exactly as the engine wrote it. `seed` may be a number below
   * 2^53, a BigInt or a decimal string (all 64 bits).
   */
  decideText(input) {
    const text = typeof input === 'string'
      ? input
      : JSON.stringify(input, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
    try {
      return this.#verified.decide(text);
    } catch (error) {
      throw new AlleleError(reason(error), { cause: error });
    }
  }

  /** The same, parsed: `{bundle_version, holdout, actions, candidates, trace}`. */
  decide(input) {
    return JSON.parse(this.decideText(input));
  }
}

/**
 * Verifies a signed bundle (the body of `GET /v1/bundles/latest`, as an
 * object or text) against the workspace public key (hex). Throws an
 * AlleleError when the bundle is unsigned, altered, signed with another key
 * or malformed; nothing unverified ever decides.
 */
export async function verify(signed, publicKeyHex) {
  await load();
  const text = typeof signed === 'string' ? signed : JSON.stringify(signed);
  try {
    return new Engine(verifyBundle(text, publicKeyHex));
  } catch (error) {
    throw new AlleleError(reason(error), { cause: error });
  }
}

async function getJson(url, key) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const body = await response.text();
  if (!response.ok) {
    let message = body;
    try {
      message = JSON.parse(body).message ?? body;
    } catch {
      // not JSON: keep the text
    }
    throw new AlleleError(`${url} answered ${response.status}: ${message}`);
  }
  return { text: body, json: JSON.parse(body) };
}

/**
 * Fetches the workspace's public key and active bundle from an allele server
 * and verifies one with the other. Pass `publicKey` (hex) to pin a key you
 * obtained out of band instead of fetching it. Answers `{engine, bundle}`
 * where `bundle` is the server's body (`workspace_salt` included, which
 * holdout hashing needs).
 */
export async function connect(server, key, { publicKey } = {}) {
  const base = server.replace(/\/+$/, '');
  const pinned = publicKey ?? (await getJson(`${base}/v1/bundles/key`, key)).json.public_key;
  const bundle = await getJson(`${base}/v1/bundles/latest`, key);
  const engine = await verify(bundle.text, pinned);
  return { engine, bundle: bundle.json };
}

export { engineVersion };
