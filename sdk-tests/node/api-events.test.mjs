// @novu/api 3.19.1: trigger, triggerBulk, triggerBroadcast, cancel and the activity reads
// (messages.retrieve/delete/deleteByTransactionId, notifications.list/retrieve) through the SDK
// calls, with the local receiver (sdk-tests/receiver.mjs) standing in for Slack and the push
// webhook. Every check of a delivery is on what the receiver got; every activity answer is
// checked, as the SDK received it byte for byte, for the secrets it must not show.

import test, { before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Novu as ApiNovu } from "@novu/api";
import { HTTPClient } from "@novu/api/lib/http.js";
import { apiErrors, rejectsWith, uid, BASE_URL, API_KEY, ISOLATED_API_KEY, ISO_DATE, OBJECT_ID } from "./lib.mjs";
import {
  assertNoSecrets,
  received,
  rxUrl,
  script,
  signature,
  waitForRequests,
  waitForRequestsUnder,
  waitUntil,
} from "./rx.mjs";

/** `@novu/api` (retries off) that keeps the body of every answer it gets, for the secret checks. */
function client(key = API_KEY) {
  const answers = [];
  const httpClient = new HTTPClient();
  httpClient.addHook("response", async (res, req) => {
    answers.push({ url: req.url, status: res.status, text: await res.clone().text() });
  });
  const novu = new ApiNovu({ secretKey: key, serverURL: BASE_URL, retryConfig: { strategy: "none" }, timeoutMs: 10_000, httpClient });
  return { novu, answers };
}

const { novu, answers } = client();
const hex = () => randomBytes(8).toString("hex");

/** This file's integrations and workflows (the receiver paths carry a random part: a "secret"). */
const env = {};

/** Creates the Slack and push-webhook integrations and an active chat+push workflow through `api`. */
async function setupEnv(api, prefix) {
  const e = { secret: `whsec-${hex()}`, pushPath: `/push/${prefix}-${hex()}` };
  e.slack = (
    await api.integrations.create({ providerId: "slack", channel: "chat", identifier: uid(`${prefix}-slack`), name: "Slack", active: true })
  ).result.identifier;
  e.push = (
    await api.integrations.create({
      providerId: "push-webhook",
      channel: "push",
      identifier: uid(`${prefix}-push`),
      name: "Push webhook",
      active: true,
      credentials: { webhookUrl: rxUrl(e.pushPath), secretKey: e.secret },
    })
  ).result.identifier;
  e.workflowId = uid(`${prefix}-wf`);
  const w = await api.workflows.create({
    name: "Order shipped",
    workflowId: e.workflowId,
    active: true,
    steps: [
      { name: "Chat step", type: "chat", controlValues: { body: "Hi {{subscriber.firstName}}, order {{payload.orderId}} shipped" } },
      { name: "Push step", type: "push", controlValues: { subject: "Order {{payload.orderId}}", body: "Shipped to {{subscriber.firstName}}" } },
    ],
  });
  assert.equal(w.result.status, "ACTIVE");
  return e;
}

/** A subscriber with a Slack webhook and a push token on the receiver; returns its paths and secrets. */
async function subscriber(api, e, prefix, firstName = "Ada") {
  const subscriberId = uid(prefix);
  const slackPath = `/slack/${subscriberId}/${hex()}`;
  const token = `tok-${hex()}`;
  await api.subscribers.create({ subscriberId, firstName });
  await api.subscribers.credentials.update(
    { providerId: "slack", integrationIdentifier: e.slack, credentials: { webhookUrl: rxUrl(slackPath) } },
    subscriberId,
  );
  await api.subscribers.credentials.update(
    { providerId: "push-webhook", integrationIdentifier: e.push, credentials: { deviceTokens: [token] } },
    subscriberId,
  );
  return { subscriberId, slackPath, token, secrets: [rxUrl(slackPath), slackPath, token, rxUrl(e.pushPath), e.pushPath, e.secret] };
}

/** Another active workflow with just a chat step of this body. */
async function chatWorkflow(api, prefix, body) {
  const workflowId = uid(prefix);
  await api.workflows.create({ name: prefix, workflowId, active: true, steps: [{ name: "Chat step", type: "chat", controlValues: { body } }] });
  return workflowId;
}

const pushFor = (token) => (r) => r.json?.target?.[0] === token;

/** Waits until every message of `transactionId` is in a final state; returns them. */
async function settledMessages(api, transactionId, n) {
  return waitUntil(
    `${n} sent message(s) of ${transactionId}`,
    async () => (await api.messages.retrieve({ transactionId: [transactionId], limit: 100 })).result.data,
    (data) => data.length >= n && data.every((m) => m.status === "sent"),
  );
}

before(async () => Object.assign(env, await setupEnv(novu, "api-ev")));

test("api | trigger | one subscriber: 201 processed; chat and push reach the receiver rendered and signed", async () => {
  const s = await subscriber(novu, env, "api-ev-one");
  const res = await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "A&17" } });
  const r = res.result;
  assert.equal(r.acknowledged, true);
  assert.equal(r.status, "processed");
  assert.match(r.transactionId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const [chat] = await waitForRequests(s.slackPath, 1);
  assert.equal(chat.method, "POST");
  assert.match(chat.headers["content-type"], /^application\/json/);
  // Handlebars escaping, as Novu renders: `&` becomes `&amp;`.
  assert.deepEqual(chat.json, { text: "Hi Ada, order A&amp;17 shipped" });
  const [push] = await waitForRequests(env.pushPath, 1, pushFor(s.token));
  assert.deepEqual(push.json.target, [s.token]);
  assert.equal(push.json.title, "Order A&amp;17");
  assert.equal(push.json.content, "Shipped to Ada");
  assert.equal(push.json.payload.orderId, "A&17");
  assert.equal(push.json.payload.subscriber.subscriberId, s.subscriberId);
  assert.equal(push.headers["x-novu-signature"], signature(env.secret, push.body));
  assert.equal((await received(s.slackPath)).length, 1);
});

test("api | trigger | overrides.providers.slack reaches Slack's body; steps.<stepId> wins; the v1 form is dropped by the SDK", async () => {
  const s = await subscriber(novu, env, "api-ev-ovr");
  const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*Shipped*" } }];
  const r = (
    await novu.trigger({
      workflowId: env.workflowId,
      to: s.subscriberId,
      payload: { orderId: "7" },
      overrides: {
        providers: { slack: { blocks, username: "Herald" }, "push-webhook": { sound: "chime" } },
        steps: { "chat-step": { providers: { slack: { username: "Step bot" } } } },
        // Not in @novu/api's Overrides type: its request schema strips it.
        slack: { icon_emoji: ":x:" },
      },
    })
  ).result;
  assert.equal(r.status, "processed");
  const [chat] = await waitForRequests(s.slackPath, 1);
  assert.deepEqual(chat.json, { text: "Hi Ada, order 7 shipped", blocks, username: "Step bot" });
  const [push] = await waitForRequests(env.pushPath, 1, pushFor(s.token));
  assert.deepEqual(push.json.overrides, { sound: "chime" });
});

test("api | trigger | to a topic with exclude: its other subscribers get it once, the excluded one nothing", async () => {
  const [a, b, c] = [
    await subscriber(novu, env, "api-ev-ta", "Ann"),
    await subscriber(novu, env, "api-ev-tb", "Bob"),
    await subscriber(novu, env, "api-ev-tc", "Cy"),
  ];
  const topicKey = uid("api-ev-topic");
  await novu.topics.create({ key: topicKey, name: "Orders" });
  await novu.topics.subscriptions.create({ subscriberIds: [a.subscriberId, b.subscriberId, c.subscriberId] }, topicKey);
  const r = (
    await novu.trigger({ workflowId: env.workflowId, to: { type: "Topic", topicKey, exclude: [c.subscriberId] }, payload: { orderId: "T1" } })
  ).result;
  assert.equal(r.status, "processed");
  assert.deepEqual((await waitForRequests(a.slackPath, 1)).map((x) => x.json.text), ["Hi Ann, order T1 shipped"]);
  assert.deepEqual((await waitForRequests(b.slackPath, 1)).map((x) => x.json.text), ["Hi Bob, order T1 shipped"]);
  assert.equal((await settledMessages(novu, r.transactionId, 4)).length, 4, "chat and push for Ann and Bob");
  // The fan-out writes each member's notification in one page: Ann's and Bob's being sent, Cy's
  // would be there too.
  const notified = (await novu.notifications.list({ transactionId: r.transactionId })).result.data;
  assert.deepEqual(notified.map((n) => n.subscriber.subscriberId).sort(), [a.subscriberId, b.subscriberId].sort());
  assert.deepEqual(await received(c.slackPath), []);
  const unknown = uid("api-ev-no-topic");
  const err = await rejectsWith(novu.trigger({ workflowId: env.workflowId, to: { type: "Topic", topicKey: unknown } }), apiErrors.ErrorDto, 404);
  assert.match(err.message, new RegExp(unknown));
});

test("api | trigger | an array of an id, an inline subscriber with its channel and a topic; actor; transactionId kept", async () => {
  const workflowId = await chatWorkflow(novu, "api-ev-actor", "{{actor.firstName}} to {{subscriber.firstName}}: {{payload.n}}");
  const a = await subscriber(novu, env, "api-ev-ma", "Ann");
  const b = await subscriber(novu, env, "api-ev-mb", "Bob");
  const actor = await subscriber(novu, env, "api-ev-actor", "Zed");
  const topicKey = uid("api-ev-mix");
  await novu.topics.create({ key: topicKey });
  // Ann is named and in the topic (reached once); the actor is in the topic (never reached).
  await novu.topics.subscriptions.create({ subscriberIds: [a.subscriberId, b.subscriberId, actor.subscriberId] }, topicKey);
  const inlineId = uid("api-ev-inline");
  const inlinePath = `/slack/${inlineId}/${hex()}`;
  const transactionId = uid("api-ev-tx");
  const r = (
    await novu.trigger({
      workflowId,
      to: [
        a.subscriberId,
        { subscriberId: inlineId, firstName: "Ina", channels: [{ providerId: "slack", integrationIdentifier: env.slack, credentials: { webhookUrl: rxUrl(inlinePath) } }] },
        { type: "Topic", topicKey },
      ],
      actor: actor.subscriberId,
      transactionId,
      payload: { n: 3 },
    })
  ).result;
  assert.deepEqual([r.status, r.transactionId], ["processed", transactionId]);
  assert.deepEqual((await waitForRequests(a.slackPath, 1)).map((x) => x.json.text), ["Zed to Ann: 3"]);
  assert.deepEqual((await waitForRequests(b.slackPath, 1)).map((x) => x.json.text), ["Zed to Bob: 3"]);
  assert.deepEqual((await waitForRequests(inlinePath, 1)).map((x) => x.json.text), ["Zed to Ina: 3"]);
  assert.equal((await settledMessages(novu, transactionId, 3)).length, 3);
  // Ann once, Bob, Ina; never the actor (all written before any of them was sent).
  const notified = (await novu.notifications.list({ transactionId })).result.data;
  assert.deepEqual(notified.map((n) => n.subscriber.subscriberId).sort(), [a.subscriberId, b.subscriberId, inlineId].sort());
  assert.deepEqual(await received(actor.slackPath), []);
  assert.equal((await received(a.slackPath)).length, 1);
  // The inline subscriber was created with its channel.
  const inline = (await novu.subscribers.retrieve(inlineId)).result;
  assert.equal(inline.firstName, "Ina");
  assert.deepEqual(inline.channels.map((ch) => ch.providerId), ["slack"]);
  // The same transactionId again is refused.
  await rejectsWith(novu.trigger({ workflowId, to: a.subscriberId, actor: actor.subscriberId, transactionId }), apiErrors.ErrorDto, 409);
});

test("api | trigger | an inactive workflow answers trigger_not_active and sends nothing", async () => {
  const s = await subscriber(novu, env, "api-ev-inactive");
  const workflowId = uid("api-ev-off");
  await novu.workflows.create({ name: "Off", workflowId, steps: [{ name: "Chat", type: "chat", controlValues: { body: "x" } }] });
  const r = (await novu.trigger({ workflowId, to: s.subscriberId })).result;
  assert.equal(r.acknowledged, true);
  assert.equal(r.status, "trigger_not_active");
  const m = (await novu.messages.retrieve({ subscriberId: s.subscriberId })).result;
  assert.equal(m.data.length, 0);
});

test("api | trigger | an unknown workflow is ValidationErrorDto 422 workflow_not_found", async () => {
  const err = await rejectsWith(novu.trigger({ workflowId: uid("api-ev-none"), to: "x" }), apiErrors.ValidationErrorDto, 422);
  assert.equal(err.message, "workflow_not_found");
});

test("api | triggerBulk | each event's outcome in order; each recipient gets its own payload", async () => {
  const subs = [await subscriber(novu, env, "api-ev-b0"), await subscriber(novu, env, "api-ev-b1"), await subscriber(novu, env, "api-ev-b2")];
  const events = subs.map((s, i) => ({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: `B${i}` } }));
  events.push({ workflowId: uid("api-ev-none"), to: subs[0].subscriberId });
  const r = (await novu.triggerBulk({ events })).result;
  assert.equal(r.length, 4);
  for (const x of r.slice(0, 3)) {
    assert.equal(x.status, "processed");
    assert.equal(typeof x.transactionId, "string");
  }
  assert.equal(new Set(r.slice(0, 3).map((x) => x.transactionId)).size, 3);
  assert.equal(r[3].status, "error");
  assert.deepEqual(r[3].error, ["workflow_not_found"]);
  for (const [i, s] of subs.entries()) {
    assert.deepEqual((await waitForRequests(s.slackPath, 1)).map((x) => x.json.text), [`Hi Ada, order B${i} shipped`]);
  }
  const over = Array.from({ length: 101 }, () => ({ workflowId: env.workflowId, to: subs[0].subscriberId }));
  const err = await rejectsWith(novu.triggerBulk({ events: over }), apiErrors.PayloadValidationExceptionDto, 400);
  assert.match(JSON.stringify(err.data$.message), /no more than 100/);
});

test(
  "api | triggerBroadcast | every subscriber of the environment gets it (a second environment, kept to this test's subscribers)",
  { skip: ISOLATED_API_KEY ? false : "HERALD_ISOLATED_API_KEY not set" },
  async () => {
    const iso = client(ISOLATED_API_KEY);
    const e = await setupEnv(iso.novu, "api-bc");
    const subs = [await subscriber(iso.novu, e, "api-bc-a", "Ann"), await subscriber(iso.novu, e, "api-bc-b", "Bob")];
    const nonce = hex();
    try {
      const r = (await iso.novu.triggerBroadcast({ name: e.workflowId, payload: { orderId: nonce } })).result;
      assert.equal(r.status, "processed");
      assert.equal(typeof r.transactionId, "string");
      // Other broadcasts of this environment (other SDKs' tests) may reach these subscribers too.
      const mine = (x) => x.json?.text?.includes(nonce);
      assert.deepEqual((await waitForRequests(subs[0].slackPath, 1, mine)).map((x) => x.json.text), [`Hi Ann, order ${nonce} shipped`]);
      assert.deepEqual((await waitForRequests(subs[1].slackPath, 1, mine)).map((x) => x.json.text), [`Hi Bob, order ${nonce} shipped`]);
      const pushes = await waitForRequestsUnder(e.pushPath, 2, (x) => x.json?.title === `Order ${nonce}`);
      assert.deepEqual(pushes.map((x) => x.json.target[0]).sort(), subs.map((s) => s.token).sort());
    } finally {
      for (const s of subs) await iso.novu.subscribers.delete(s.subscriberId);
      await iso.novu.workflows.delete(e.workflowId);
    }
  },
);

test("api | cancel | a message waiting for its retry is canceled (true), then there is nothing left (false)", async () => {
  // Deterministic: the receiver answers the first attempt 503 with Retry-After: 3600, so the job
  // waits an hour in the queue; cancel runs while it waits (seen through the activity API).
  const s = await subscriber(novu, env, "api-ev-cancel");
  const workflowId = await chatWorkflow(novu, "api-ev-cancel", "Later {{payload.n}}");
  await script(s.slackPath, [{ status: 503, body: "busy", headers: { "retry-after": "3600" } }]);
  const { transactionId } = (await novu.trigger({ workflowId, to: s.subscriberId, payload: { n: 1 } })).result;
  await waitForRequests(s.slackPath, 1);
  const [waiting] = await waitUntil(
    "the message to wait for its retry",
    async () => (await novu.messages.retrieve({ transactionId: [transactionId] })).result.data,
    (d) => d.length === 1 && d[0].status === "warning",
  );
  assert.match(waiting.errorText, /503/);
  assert.equal((await novu.cancel(transactionId)).result, true);
  assert.equal((await novu.cancel(transactionId)).result, false);
  const n = (await novu.notifications.list({ transactionId })).result.data;
  assert.equal(n.length, 1);
  assert.deepEqual(n[0].jobs.map((j) => j.status), ["canceled"]);
  assert.equal((await received(s.slackPath)).length, 1, "only the first attempt reached the receiver");
  assert.equal((await novu.cancel(uid("api-ev-no-tx"))).result, false);
});

test("api | messages.retrieve | by subscriber, channel and transactionId: sent, typed, no secret in the answer", async () => {
  const s = await subscriber(novu, env, "api-ev-msgs");
  const { transactionId } = (await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "M1" } })).result;
  await settledMessages(novu, transactionId, 2);
  const from = answers.length;
  const page = (await novu.messages.retrieve({ subscriberId: s.subscriberId, limit: 10 })).result;
  assert.equal(page.page, 0);
  assert.equal(page.pageSize, 10);
  assert.equal(page.hasMore, false);
  assert.equal(page.totalCount, 2);
  const byChannel = Object.fromEntries(page.data.map((m) => [m.channel, m]));
  const chat = byChannel.chat;
  assert.equal(chat.status, "sent");
  assert.equal(chat.providerId, "slack");
  assert.equal(chat.content, "Hi Ada, order M1 shipped");
  assert.equal(chat.transactionId, transactionId);
  assert.equal(chat.templateIdentifier, env.workflowId);
  for (const m of page.data) {
    assert.match(m.id, OBJECT_ID);
    assert.match(m.notificationId, OBJECT_ID);
    assert.match(m.subscriberId, OBJECT_ID);
    assert.match(m.environmentId, OBJECT_ID);
    assert.match(m.createdAt, ISO_DATE);
    assert.equal(m.read, false);
    assert.equal(m.errorText, undefined);
  }
  const push = byChannel.push;
  assert.equal(push.providerId, "push-webhook");
  assert.equal(push.title, "Order M1");
  assert.equal(push.deviceTokens.length, 1);
  const chatOnly = (await novu.messages.retrieve({ subscriberId: s.subscriberId, channel: "chat" })).result.data;
  assert.deepEqual(chatOnly.map((m) => m.channel), ["chat"]);
  const byTx = (await novu.messages.retrieve({ transactionId: [transactionId, uid("other")] })).result.data;
  assert.equal(byTx.length, 2);
  await rejectsWith(novu.messages.retrieve({ subscriberId: uid("api-ev-nobody") }), apiErrors.ErrorDto, 404);
  const seen = answers.slice(from);
  assert.ok(seen.length >= 3);
  for (const a of seen) assertNoSecrets(a.text, s.secrets, a.url);
});

test("api | notifications.list | the trigger's notification with its jobs and execution details; no secret", async () => {
  const s = await subscriber(novu, env, "api-ev-feed");
  const { transactionId } = (await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "N1" } })).result;
  await settledMessages(novu, transactionId, 2);
  const from = answers.length;
  const list = (await novu.notifications.list({ transactionId })).result;
  assert.equal(list.page, 0);
  assert.equal(list.hasMore, false);
  assert.equal(list.data.length, 1);
  const n = list.data[0];
  assert.match(n.id, OBJECT_ID);
  assert.equal(n.transactionId, transactionId);
  assert.equal(n.subscriber.subscriberId, s.subscriberId);
  assert.equal(n.template.triggers[0].identifier, env.workflowId);
  assert.deepEqual(n.jobs.map((j) => [j.type, j.status, j.providerId]).sort(), [
    ["chat", "completed", "slack"],
    ["push", "completed", "push-webhook"],
  ]);
  for (const j of n.jobs) {
    assert.ok(j.executionDetails.length >= 1);
    const last = j.executionDetails.at(-1);
    assert.equal(last.status, "Success");
    assert.equal(last.isRetry, false);
  }
  const bySubscriber = (await novu.notifications.list({ subscriberIds: [s.subscriberId], channels: ["chat"] })).result.data;
  assert.deepEqual(bySubscriber.map((x) => x.transactionId), [transactionId]);
  for (const a of answers.slice(from)) assertNoSecrets(a.text, s.secrets, a.url);
});

test("api | notifications.retrieve | by id, the same notification; unknown id is ErrorDto 404", async () => {
  const s = await subscriber(novu, env, "api-ev-one-n");
  const { transactionId } = (await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "R1" } })).result;
  await settledMessages(novu, transactionId, 2);
  const [n] = (await novu.notifications.list({ transactionId })).result.data;
  const from = answers.length;
  const one = (await novu.notifications.retrieve(n.id)).result;
  assert.equal(one.id, n.id);
  assert.equal(one.transactionId, transactionId);
  assert.equal(one.jobs.length, 2);
  assert.ok(one.jobs.every((j) => j.executionDetails.every((d) => typeof d.detail === "string")));
  for (const a of answers.slice(from)) assertNoSecrets(a.text, s.secrets, a.url);
  await rejectsWith(novu.notifications.retrieve("0123456789abcdef01234567"), apiErrors.ErrorDto, 404);
});

test("api | messages.delete | {acknowledged, status: deleted}; again ErrorDto 404", async () => {
  const s = await subscriber(novu, env, "api-ev-del");
  const { transactionId } = (await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "D1" } })).result;
  const [m] = (await settledMessages(novu, transactionId, 2)).filter((x) => x.channel === "chat");
  const r = (await novu.messages.delete(m.id)).result;
  assert.deepEqual(r, { acknowledged: true, status: "deleted" });
  const left = (await novu.messages.retrieve({ transactionId: [transactionId] })).result.data;
  assert.deepEqual(left.map((x) => x.channel), ["push"]);
  await rejectsWith(novu.messages.delete(m.id), apiErrors.ErrorDto, 404);
});

test("api | messages.deleteByTransactionId | 204 for one channel, then the rest; nothing left is ErrorDto 404", async () => {
  const s = await subscriber(novu, env, "api-ev-deltx");
  const { transactionId } = (await novu.trigger({ workflowId: env.workflowId, to: s.subscriberId, payload: { orderId: "D2" } })).result;
  await settledMessages(novu, transactionId, 2);
  const res = await novu.messages.deleteByTransactionId(transactionId, "push");
  assert.ok(res === undefined || res.result === undefined, "204: no body");
  const left = (await novu.messages.retrieve({ transactionId: [transactionId] })).result.data;
  assert.deepEqual(left.map((x) => x.channel), ["chat"]);
  await novu.messages.deleteByTransactionId(transactionId);
  assert.equal((await novu.messages.retrieve({ transactionId: [transactionId] })).result.data.length, 0);
  await rejectsWith(novu.messages.deleteByTransactionId(transactionId), apiErrors.ErrorDto, 404);
});
