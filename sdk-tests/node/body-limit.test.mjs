// Bodies over Herald's limit, sent with Node's own `fetch` (undici), as the SDKs send them: every
// try must read the 413 in Novu's format, never a broken connection (EPIPE, ECONNRESET,
// "other side closed"), which the SDKs would retry. Issue 12: 20 tries each at 3 MB and 10 MB.
// Not an SDK operation, so it stays out of the matrix (its names do not start with an SDK).

import assert from "node:assert/strict";
import { test } from "node:test";
import { API_KEY, BASE_URL } from "./lib.mjs";

const TRIES = 20;

for (const mb of [3, 10]) {
  test(`fetch | POST /v1/subscribers | a ${mb} MB body is answered 413, ${TRIES} times in a row`, async () => {
    const body = JSON.stringify({ subscriberId: "too-big", data: "x".repeat(mb * 1_000_000) });
    const outcomes = {};
    for (let i = 0; i < TRIES; i++) {
      let outcome;
      try {
        const res = await fetch(`${BASE_URL}/v1/subscribers`, {
          method: "POST",
          headers: { Authorization: `ApiKey ${API_KEY}`, "Content-Type": "application/json" },
          body,
        });
        const error = await res.json();
        outcome =
          res.status === 413 && error.statusCode === 413 && error.message === "request entity too large"
            ? "413"
            : `${res.status} ${JSON.stringify(error)}`;
      } catch (e) {
        outcome = `error ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`body-limit: fetch, ${mb} MB: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(outcomes, { 413: TRIES });
  });
}
