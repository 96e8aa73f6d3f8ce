// @novu/node 2.6.6: trigger, bulkTrigger, broadcast, events.cancel and the activity reads
// (messages.list/deleteById/deleteByTransactionId, executionDetails.get) through the SDK calls,
// on v1 workflows (notification templates, payload keys at the top level), with the local
// receiver (sdk-tests/receiver.mjs) standing in for Slack and the push webhook. The SDK returns
// the axios response, so the activity checks read the JSON exactly as Herald sent it.

import test, { before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { nodeClient, axiosRejects, assertErrorBody, uid, ISOLATED_API_KEY, ISO_DATE, OBJECT_ID } from "./lib.mjs";
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

const novu = nodeClient();
const hex = () => randomBytes(8).toString("hex");
const env = {};

/** A v1 workflow (notification template) in the General group; returns its trigger identifier. */
async function template(sdk, name, steps, extra = {}) {
  const groups = await sdk.notificationGroups.get();
  const general = groups.data.data.find((g) => g.name === "General");
  const res = await sdk.notificationTemplates.create({ name, notificationGroupId: general._id, steps, ...extra });
  assert.equal(res.status, 201);
  return res.data.data.triggers[0].identifier;
}

const chatStep = (content) => ({ active: true, template: { type: "chat", content } });

/** The Slack and push-webhook integrations and an active chat+push workflow, through `sdk`. */
async function setupEnv(sdk, prefix) {
  const e = { secret: `whsec-${hex()}`, pushPath: `/push/${prefix}-${hex()}` };
  e.slack = uid(`${prefix}-slack`);
  e.push = uid(`${prefix}-push`);
  await sdk.integrations.create("slack", { channel: "chat", identifier: e.slack, name: "Slack", active: true });
  await sdk.integrations.create("push-webhook", {
    channel: "push",
    identifier: e.push,
    name: "Push webhook",
    active: true,
    credentials: { webhookUrl: rxUrl(e.pushPath), secretKey: e.secret },
  });
  e.workflow = await template(
    sdk,
    uid(`${prefix} order shipped`),
    [
      chatStep("Hi {{subscriber.firstName}}, order {{orderId}} shipped"),
      { active: true, template: { type: "push", title: "Order {{orderId}}", content: "Shipped to {{subscriber.firstName}}" } },
    ],
    { active: true },
  );
  return e;
}

/** A subscriber with a Slack webhook and a push token on the receiver. */
async function subscriber(sdk, e, prefix, firstName = "Ada") {
  const subscriberId = uid(prefix);
  const slackPath = `/slack/${subscriberId}/${hex()}`;
  const token = `tok-${hex()}`;
  await sdk.subscribers.identify(subscriberId, { firstName });
  await sdk.subscribers.setCredentials(subscriberId, "slack", { webhookUrl: rxUrl(slackPath) }, e.slack);
  await sdk.subscribers.setCredentials(subscriberId, "push-webhook", { deviceTokens: [token] }, e.push);
  return { subscriberId, slackPath, token, secrets: [rxUrl(slackPath), slackPath, token, rxUrl(e.pushPath), e.pushPath, e.secret] };
}

const pushFor = (token) => (r) => r.json?.target?.[0] === token;

/** Waits until the transaction's `n` messages are all sent; returns them (raw JSON). */
async function settledMessages(sdk, transactionId, n) {
  return waitUntil(
    `${n} sent message(s) of ${transactionId}`,
    async () => (await sdk.messages.list({ transactionIds: [transactionId], limit: 100 })).data.data,
    (data) => data.length >= n && data.every((m) => m.status === "sent"),
  );
}

/** Triggers and checks the 201 answer; returns `data`. */
async function trigger(sdk, name, data) {
  const res = await sdk.trigger(name, data);
  assert.equal(res.status, 201);
  return res.data.data;
}

before(async () => Object.assign(env, await setupEnv(novu, "node-ev")));

test("node | trigger | one subscriber: 201 processed; chat and push reach the receiver rendered and signed", async () => {
  const s = await subscriber(novu, env, "node-ev-one");
  const d = await trigger(novu, env.workflow, { to: s.subscriberId, payload: { orderId: "<7>" } });
  assert.equal(d.acknowledged, true);
  assert.equal(d.status, "processed");
  assert.match(d.transactionId, /^[0-9a-f-]{36}$/);
  const [chat] = await waitForRequests(s.slackPath, 1);
  assert.deepEqual(chat.json, { text: "Hi Ada, order &lt;7&gt; shipped" });
  const [push] = await waitForRequests(env.pushPath, 1, pushFor(s.token));
  assert.equal(push.json.title, "Order &lt;7&gt;");
  assert.equal(push.json.content, "Shipped to Ada");
  assert.equal(push.json.payload.orderId, "<7>");
  assert.equal(push.headers["x-novu-signature"], signature(env.secret, push.body));
});

test("node | trigger | overrides.slack (v1 form) over overrides.chat reach Slack's body; overrides['push-webhook'] the push body", async () => {
  const s = await subscriber(novu, env, "node-ev-ovr");
  const blocks = [{ type: "divider" }];
  const d = await trigger(novu, env.workflow, {
    to: s.subscriberId,
    payload: { orderId: "9" },
    overrides: { chat: { username: "Channel", icon_emoji: ":box:" }, slack: { username: "Provider", blocks }, "push-webhook": { badge: 2 } },
  });
  assert.equal(d.status, "processed");
  const [chat] = await waitForRequests(s.slackPath, 1);
  assert.deepEqual(chat.json, { text: "Hi Ada, order 9 shipped", username: "Provider", icon_emoji: ":box:", blocks });
  const [push] = await waitForRequests(env.pushPath, 1, pushFor(s.token));
  assert.deepEqual(push.json.overrides, { badge: 2 });
});

test("node | trigger | to a v1 topic: each of its subscribers once", async () => {
  const a = await subscriber(novu, env, "node-ev-ta", "Ann");
  const b = await subscriber(novu, env, "node-ev-tb", "Bob");
  const topicKey = uid("node-ev-topic");
  await novu.topics.create({ key: topicKey, name: "Orders" });
  await novu.topics.addSubscribers(topicKey, { subscribers: [a.subscriberId, b.subscriberId] });
  const d = await trigger(novu, env.workflow, { to: [{ type: "Topic", topicKey }], payload: { orderId: "T" } });
  assert.equal(d.status, "processed");
  assert.deepEqual((await waitForRequests(a.slackPath, 1)).map((x) => x.json.text), ["Hi Ann, order T shipped"]);
  assert.deepEqual((await waitForRequests(b.slackPath, 1)).map((x) => x.json.text), ["Hi Bob, order T shipped"]);
  assert.equal((await settledMessages(novu, d.transactionId, 4)).length, 4);
});

test("node | trigger | an array of an id, an inline subscriber and a topic; an inline actor; transactionId kept", async () => {
  const workflow = await template(novu, uid("node ev actor"), [chatStep("{{actor.firstName}} to {{subscriber.firstName}}: {{n}}")], { active: true });
  const a = await subscriber(novu, env, "node-ev-ma", "Ann");
  const b = await subscriber(novu, env, "node-ev-mb", "Bob");
  const topicKey = uid("node-ev-mix");
  await novu.topics.create({ key: topicKey, name: "Mix" });
  await novu.topics.addSubscribers(topicKey, { subscribers: [a.subscriberId, b.subscriberId] });
  const inlineId = uid("node-ev-inline");
  const inlinePath = `/slack/${inlineId}/${hex()}`;
  const actorId = uid("node-ev-actor");
  const transactionId = uid("node-ev-tx");
  const d = await trigger(novu, workflow, {
    to: [
      a.subscriberId,
      { subscriberId: inlineId, firstName: "Ina", channels: [{ providerId: "slack", integrationIdentifier: env.slack, credentials: { webhookUrl: rxUrl(inlinePath) } }] },
      { type: "Topic", topicKey },
    ],
    actor: { subscriberId: actorId, firstName: "Zed" },
    transactionId,
    payload: { n: 5 },
  });
  assert.deepEqual([d.status, d.transactionId], ["processed", transactionId]);
  assert.deepEqual((await waitForRequests(a.slackPath, 1)).map((x) => x.json.text), ["Zed to Ann: 5"]);
  assert.deepEqual((await waitForRequests(b.slackPath, 1)).map((x) => x.json.text), ["Zed to Bob: 5"]);
  assert.deepEqual((await waitForRequests(inlinePath, 1)).map((x) => x.json.text), ["Zed to Ina: 5"]);
  assert.equal((await settledMessages(novu, transactionId, 3)).length, 3, "Ann once, Bob, Ina");
  assert.equal((await received(a.slackPath)).length, 1);
  // The inline actor was created as a subscriber.
  assert.equal((await novu.subscribers.get(actorId)).data.data.firstName, "Zed");
});

test("node | trigger | inactive workflow: trigger_not_active; unknown workflow: AxiosError 422 workflow_not_found", async () => {
  const s = await subscriber(novu, env, "node-ev-inactive");
  const off = await template(novu, uid("node ev off"), [chatStep("x")]);
  const d = await trigger(novu, off, { to: s.subscriberId, payload: {} });
  assert.equal(d.acknowledged, true);
  assert.equal(d.status, "trigger_not_active");
  assert.equal(typeof d.transactionId, "string");
  assert.equal((await novu.messages.list({ subscriberId: s.subscriberId })).data.data.length, 0);
  const body = await axiosRejects(novu.trigger(uid("node-ev-none"), { to: s.subscriberId, payload: {} }), 422);
  assertErrorBody(body, 422);
  assert.equal(body.message, "workflow_not_found");
});

test("node | bulkTrigger | each event's outcome in order; each recipient gets its own payload", async () => {
  const subs = [await subscriber(novu, env, "node-ev-b0"), await subscriber(novu, env, "node-ev-b1")];
  const events = subs.map((s, i) => ({ name: env.workflow, to: s.subscriberId, payload: { orderId: `B${i}` } }));
  events.push({ name: uid("node-ev-none"), to: subs[0].subscriberId, payload: {} });
  const res = await novu.bulkTrigger(events);
  assert.equal(res.status, 201);
  const out = res.data.data;
  assert.deepEqual(out.map((x) => x.status), ["processed", "processed", "error"]);
  assert.deepEqual(out[2].error, ["workflow_not_found"]);
  for (const [i, s] of subs.entries()) {
    assert.deepEqual((await waitForRequests(s.slackPath, 1)).map((x) => x.json.text), [`Hi Ada, order B${i} shipped`]);
  }
  const body = await axiosRejects(novu.bulkTrigger(Array.from({ length: 101 }, () => events[0])), 400);
  assertErrorBody(body, 400);
});

test(
  "node | broadcast | every subscriber of the environment gets it (a second environment, kept to this test's subscribers)",
  { skip: ISOLATED_API_KEY ? false : "HERALD_ISOLATED_API_KEY not set" },
  async () => {
    const iso = nodeClient({ key: ISOLATED_API_KEY });
    const e = await setupEnv(iso, "node-bc");
    const subs = [await subscriber(iso, e, "node-bc-a", "Ann"), await subscriber(iso, e, "node-bc-b", "Bob")];
    const nonce = hex();
    try {
      const res = await iso.broadcast(e.workflow, { payload: { orderId: nonce } });
      assert.equal(res.status, 201);
      assert.equal(res.data.data.status, "processed");
      const mine = (x) => x.json?.text?.includes(nonce);
      assert.deepEqual((await waitForRequests(subs[0].slackPath, 1, mine)).map((x) => x.json.text), [`Hi Ann, order ${nonce} shipped`]);
      assert.deepEqual((await waitForRequests(subs[1].slackPath, 1, mine)).map((x) => x.json.text), [`Hi Bob, order ${nonce} shipped`]);
      const pushes = await waitForRequestsUnder(e.pushPath, 2, (x) => x.json?.title === `Order ${nonce}`);
      assert.deepEqual(pushes.map((x) => x.json.target[0]).sort(), subs.map((s) => s.token).sort());
    } finally {
      for (const s of subs) await iso.subscribers.delete(s.subscriberId);
    }
  },
);

test("node | events.cancel | a message waiting for its retry is canceled ({data: true}), then {data: false}", async () => {
  // Deterministic: the first attempt gets 503 with Retry-After: 3600, so the job waits an hour.
  const s = await subscriber(novu, env, "node-ev-cancel");
  const workflow = await template(novu, uid("node ev cancel"), [chatStep("Later {{n}}")], { active: true });
  await script(s.slackPath, [{ status: 503, body: "busy", headers: { "retry-after": "3600" } }]);
  const { transactionId } = await trigger(novu, workflow, { to: s.subscriberId, payload: { n: 1 } });
  await waitForRequests(s.slackPath, 1);
  await waitUntil(
    "the message to wait for its retry",
    async () => (await novu.messages.list({ transactionIds: [transactionId] })).data.data,
    (d) => d.length === 1 && d[0].status === "warning",
  );
  const res = await novu.events.cancel(transactionId);
  assert.equal(res.status, 200);
  assert.equal(res.data.data, true);
  assert.equal((await novu.events.cancel(transactionId)).data.data, false);
  assert.equal((await received(s.slackPath)).length, 1);
  const [m] = (await novu.messages.list({ transactionIds: [transactionId] })).data.data;
  const details = (await novu.executionDetails.get({ notificationId: m._notificationId, subscriberId: s.subscriberId })).data.data;
  assert.ok(details.some((x) => x.status === "Failed" || x.status === "Warning"), JSON.stringify(details));
});

test("node | messages.list | by subscriber, channel and transactionId[]: sent, with Novu's fields; no secret", async () => {
  const s = await subscriber(novu, env, "node-ev-msgs");
  const { transactionId } = await trigger(novu, env.workflow, { to: s.subscriberId, payload: { orderId: "M" } });
  await settledMessages(novu, transactionId, 2);
  const res = await novu.messages.list({ subscriberId: s.subscriberId, limit: 10 });
  assert.equal(res.status, 200);
  assert.equal(res.data.page, 0);
  assert.equal(res.data.totalCount, 2);
  assert.equal(res.data.hasMore, false);
  for (const m of res.data.data) {
    assert.match(m._id, OBJECT_ID);
    assert.match(m._notificationId, OBJECT_ID);
    assert.equal(m.subscriberId, s.subscriberId);
    assert.equal(m.transactionId, transactionId);
    assert.equal(m.status, "sent");
    assert.match(m.createdAt, ISO_DATE);
  }
  const chat = (await novu.messages.list({ subscriberId: s.subscriberId, channel: "chat" })).data.data;
  assert.deepEqual(chat.map((m) => [m.channel, m.providerId, m.content]), [["chat", "slack", "Hi Ada, order M shipped"]]);
  const two = (await novu.messages.list({ transactionIds: [transactionId, uid("none")] })).data.data;
  assert.equal(two.length, 2);
  for (const r of [res, { data: chat }, { data: two }]) assertNoSecrets(JSON.stringify(r.data), s.secrets, "messages.list");
});

test("node | executionDetails.get | one detail per step of the attempt, Success at the end; no secret", async () => {
  const s = await subscriber(novu, env, "node-ev-ed");
  const { transactionId } = await trigger(novu, env.workflow, { to: s.subscriberId, payload: { orderId: "E" } });
  const [m] = await settledMessages(novu, transactionId, 2);
  const res = await novu.executionDetails.get({ notificationId: m._notificationId, subscriberId: s.subscriberId });
  assert.equal(res.status, 200);
  const details = res.data.data;
  assert.ok(details.length >= 2);
  for (const d of details) {
    assert.match(d._id, OBJECT_ID);
    assert.equal(d._notificationId, m._notificationId);
    assert.equal(d.transactionId, transactionId);
    assert.equal(typeof d.detail, "string");
    assert.equal(d.isRetry, false);
  }
  // Chat says `Message sent`, push `Message sent: <providerId>` (Novu's texts).
  const sent = details.filter((d) => d.status === "Success" && d.detail.startsWith("Message sent"));
  assert.deepEqual(sent.map((d) => d.channel).sort(), ["chat", "push"]);
  assertNoSecrets(JSON.stringify(res.data), s.secrets, "executionDetails.get");
  const body = await axiosRejects(novu.executionDetails.get({ notificationId: m._notificationId, subscriberId: uid("nobody") }), 404);
  assertErrorBody(body, 404);
});

test("node | messages.deleteById | {acknowledged, status: deleted}; again 404", async () => {
  const s = await subscriber(novu, env, "node-ev-del");
  const { transactionId } = await trigger(novu, env.workflow, { to: s.subscriberId, payload: { orderId: "D" } });
  const [m] = (await settledMessages(novu, transactionId, 2)).filter((x) => x.channel === "push");
  const res = await novu.messages.deleteById(m._id);
  assert.equal(res.status, 200);
  assert.deepEqual(res.data.data, { acknowledged: true, status: "deleted" });
  assert.deepEqual((await novu.messages.list({ transactionIds: [transactionId] })).data.data.map((x) => x.channel), ["chat"]);
  await axiosRejects(novu.messages.deleteById(m._id), 404);
});

test("node | messages.deleteByTransactionId | 204; then the transaction has no message and again is 404", async () => {
  const s = await subscriber(novu, env, "node-ev-deltx");
  const { transactionId } = await trigger(novu, env.workflow, { to: s.subscriberId, payload: { orderId: "X" } });
  await settledMessages(novu, transactionId, 2);
  const res = await novu.messages.deleteByTransactionId(transactionId);
  assert.equal(res.status, 204);
  assert.equal((await novu.messages.list({ transactionIds: [transactionId] })).data.data.length, 0);
  await axiosRejects(novu.messages.deleteByTransactionId(transactionId), 404);
});
