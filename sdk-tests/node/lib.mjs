// Shared helpers for the Node SDK suites: clients for a running Herald, unique names, the topics
// gate, and assertions on the SDKs' error classes.
//
// The server comes from the environment (run.sh sets both):
//   HERALD_URL      base URL, e.g. http://127.0.0.1:40123 (no trailing slash)
//   HERALD_API_KEY  a Development API key of that server

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Novu as ApiNovu } from "@novu/api";
import * as apiErrors from "@novu/api/models/errors/index.js";
import nodeSdk from "@novu/node";

export const BASE_URL = (process.env.HERALD_URL || "").replace(/\/+$/, "");
export const API_KEY = process.env.HERALD_API_KEY || "";
if (!BASE_URL || !API_KEY) {
  throw new Error("HERALD_URL and HERALD_API_KEY must be set (sdk-tests/run.sh sets them)");
}

export { apiErrors };

/** An API key of another environment (run.sh makes a Production key), for tests whose data would disturb
 * the others or that need a nearly empty environment; those tests skip without it. */
export const ISOLATED_API_KEY = process.env.HERALD_ISOLATED_API_KEY || "";

/** `@novu/api` with retries off, so a wrong status fails at once instead of retrying for an hour. */
export function apiClient(key = API_KEY) {
  return new ApiNovu({
    secretKey: key,
    serverURL: BASE_URL,
    retryConfig: { strategy: "none" },
    timeoutMs: 10_000,
  });
}

/** `@novu/node` (classic); `trailingSlash` gives `backendUrl` a trailing `/`, so it calls `//v1/...`. */
export function nodeClient({ trailingSlash = false, key = API_KEY } = {}) {
  const { Novu } = nodeSdk;
  const novu = new Novu(key, { backendUrl: trailingSlash ? `${BASE_URL}/` : BASE_URL });
  novu.http.defaults.timeout = 10_000;
  return novu;
}

/** A name no other test (or earlier run against the same database) uses. */
export function uid(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export const OBJECT_ID = /^[0-9a-f]{24}$/;
export const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** A 24-hex id that names nothing (an unknown integration). */
export const UNKNOWN_OBJECT_ID = "0123456789abcdef01234567";

/** A raw request to Herald (outside any SDK), for probes and test setup. */
export async function raw(method, path, body) {
  const res = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      Authorization: `ApiKey ${API_KEY}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

let topicsProbe;

/**
 * Topics (`/v1|v2/topics`), `GET /v2/subscribers` and `GET /v2/subscribers/{id}/subscriptions`
 * arrive together. Returns a skip reason when the server does not serve them yet (Nest's
 * `404 Cannot GET /v2/topics`), otherwise `null`: once topics are served these tests must pass.
 */
export async function topicsMissing() {
  topicsProbe ??= raw("GET", "/v2/topics?limit=1");
  const probe = await topicsProbe;
  if (probe.status === 404 && probe.json?.message === "Cannot GET /v2/topics") {
    return "server does not serve topics yet (404 Cannot GET /v2/topics)";
  }
  return null;
}

/** `test(name, fn)` for topic-dependent tests: skips (node:test `skip`) while topics are missing. */
export function gated(fn) {
  return async (t) => {
    const reason = await topicsMissing();
    if (reason) {
      t.skip(reason);
      return;
    }
    await fn(t);
  };
}

/**
 * Awaits `promise`, which must reject with an instance of `cls` whose `statusCode` is `status`.
 * Returns the error for further checks.
 */
export async function rejectsWith(promise, cls, status) {
  let err;
  try {
    const value = await promise;
    assert.fail(`expected ${cls.name} ${status}, got success: ${JSON.stringify(value)?.slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(
    err instanceof cls,
    `expected ${cls.name}, got ${err?.constructor?.name} (${err?.statusCode ?? ""}): ${err?.message?.slice(0, 500)}` +
      (err?.body ? `\nbody: ${String(err.body).slice(0, 500)}` : ""),
  );
  assert.equal(err.statusCode, status, `statusCode of ${cls.name}: ${err.message?.slice(0, 300)}`);
  return err;
}

/** A rejected `@novu/node` call: an AxiosError with the given HTTP status. Returns `response.data`. */
export async function axiosRejects(promise, status) {
  let err;
  try {
    const res = await promise;
    assert.fail(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.data)?.slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.equal(err?.name, "AxiosError", `expected AxiosError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.response?.status, status, `status; body: ${JSON.stringify(err.response?.data)}`);
  return err.response.data;
}

/** Checks Novu's error body `{statusCode, timestamp, path, message}`. */
export function assertErrorBody(body, status) {
  assert.equal(body.statusCode, status);
  assert.match(body.timestamp, ISO_DATE);
  assert.equal(typeof body.path, "string");
  assert.ok("message" in body, "error body has a message");
}

/** Checks the fields every SubscriberResponseDto (as `@novu/api` remaps it) must carry. */
export function assertApiSubscriber(s, subscriberId) {
  assert.equal(s.subscriberId, subscriberId);
  assert.match(s.id, OBJECT_ID);
  assert.match(s.organizationId, OBJECT_ID);
  assert.match(s.environmentId, OBJECT_ID);
  assert.equal(s.deleted, false);
  assert.match(s.createdAt, ISO_DATE);
  assert.match(s.updatedAt, ISO_DATE);
}

/** Creates an active integration through a raw request (test setup, not under test). */
export async function setupIntegration(providerId, channel, extra = {}) {
  const identifier = uid(`${providerId}-setup`);
  const res = await raw("POST", "/v1/integrations", {
    providerId,
    channel,
    identifier,
    name: identifier,
    active: true,
    ...extra,
  });
  assert.equal(res.status, 201, `setup: create integration: ${res.text}`);
  return res.json.data;
}

/** Creates a subscriber through a raw request (test setup). */
export async function setupSubscriber(prefix, extra = {}) {
  const subscriberId = uid(prefix);
  const res = await raw("POST", "/v1/subscribers", { subscriberId, ...extra });
  assert.equal(res.status, 201, `setup: create subscriber: ${res.text}`);
  return subscriberId;
}
