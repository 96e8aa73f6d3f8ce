// The providers' stand-in (sdk-tests/receiver.mjs, started by run.sh) as the event tests see it:
// URLs on it, what it received, scripted answers, and bounded waits. Every wait polls at a short
// interval up to an overall timeout and then fails with what it last saw; none sleeps a fixed time.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";

export const RECEIVER_URL = (process.env.HERALD_RECEIVER_URL || "").replace(/\/+$/, "");
if (!RECEIVER_URL) {
  throw new Error("HERALD_RECEIVER_URL must be set (sdk-tests/run.sh starts the receiver and sets it)");
}

/** The receiver's URL for `path` (a webhook URL Herald will post to). */
export const rxUrl = (path) => `${RECEIVER_URL}${path}`;

async function control(method, route, body) {
  const res = await fetch(`${RECEIVER_URL}/_rx/${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, `receiver /_rx/${route}: ${await res.clone().text()}`);
  return (await res.json()).data;
}

/** A recorded request with its body parsed (`json`, or `undefined` when not JSON). */
function parsed(r) {
  let json;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** Requests received at exactly `path`, oldest first. */
export async function received(path) {
  return (await control("GET", `requests?path=${encodeURIComponent(path)}`)).map(parsed);
}

/** Requests received at every path under `prefix`, oldest first. */
export async function receivedUnder(prefix) {
  return (await control("GET", `requests?prefix=${encodeURIComponent(prefix)}`)).map(parsed);
}

/** The next answers at `path`: `[{status, body?, headers?}]`, used in order. */
export async function script(path, answers) {
  const res = await fetch(`${RECEIVER_URL}/_rx/script?path=${encodeURIComponent(path)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(answers),
  });
  assert.equal(res.status, 200, `receiver script: ${await res.text()}`);
}

/**
 * Polls `probe` (async, returns a value) every `intervalMs` until `done(value)` holds; returns
 * that value. Fails after `timeoutMs` with `what` and the last value seen.
 */
export async function waitUntil(what, probe, done, { timeoutMs = 20_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 1500)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until `path` has received at least `n` requests (matching `filter`); returns those. */
export async function waitForRequests(path, n, filter = () => true) {
  return waitUntil(
    `${n} request(s) at ${path}`,
    async () => (await received(path)).filter(filter),
    (list) => list.length >= n,
  );
}

/** Waits until `n` requests under `prefix` match `filter`; returns them. */
export async function waitForRequestsUnder(prefix, n, filter = () => true) {
  return waitUntil(
    `${n} request(s) under ${prefix}`,
    async () => (await receivedUnder(prefix)).filter(filter),
    (list) => list.length >= n,
  );
}

/** The push webhook's `X-Novu-Signature`: hex HMAC-SHA256 of the exact body under the secret. */
export const signature = (secret, body) => createHmac("sha256", secret).update(body, "utf8").digest("hex");

/** Asserts `text` (a response body as the SDK received it) contains none of `secrets`. */
export function assertNoSecrets(text, secrets, where) {
  for (const s of secrets) {
    assert.ok(!text.includes(s), `${where} shows a secret (${s.slice(0, 12)}…): ${text.slice(0, 800)}`);
  }
}
