// @novu/api 3.19.1: v2 topics and subscriptions, the v1 membership check, subscriber search and a
// subscriber's subscriptions, through the SDK calls. Skipped while the server answers
// `404 Cannot GET /v2/topics`; once topics are served every test here must pass.

import test from "node:test";
import assert from "node:assert/strict";
import { apiClient, apiErrors, gated, rejectsWith, uid, ISO_DATE, OBJECT_ID } from "./lib.mjs";

const novu = apiClient();

async function newSubscribers(prefix, n, extra = () => ({})) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const subscriberId = uid(`${prefix}${i}`);
    await novu.subscribers.create({ subscriberId, ...extra(i) });
    ids.push(subscriberId);
  }
  return ids;
}

function assertTopic(t, key) {
  assert.match(t.id, OBJECT_ID);
  assert.equal(t.key, key);
  if (t.createdAt !== undefined) assert.match(t.createdAt, ISO_DATE);
  if (t.updatedAt !== undefined) assert.match(t.updatedAt, ISO_DATE);
}

function assertCursorList(r) {
  assert.ok(Array.isArray(r.data));
  assert.ok(r.next === null || typeof r.next === "string");
  assert.ok(r.previous === null || typeof r.previous === "string");
  assert.equal(typeof r.totalCount, "number");
  assert.equal(typeof r.totalCountCapped, "boolean");
}

test("api | topics.create | new topic 201 with key, name, data; again upserts (200 or 201)", gated(async () => {
  const key = uid("api-topic");
  const t = (await novu.topics.create({ key, name: "News", data: { lang: "en" } })).result;
  assertTopic(t, key);
  assert.equal(t.name, "News");
  assert.deepEqual(t.data, { lang: "en" });
  const again = (await novu.topics.create({ key, name: "Renamed" })).result;
  assert.equal(again.id, t.id);
  assert.equal(again.name, "Renamed");
}));

test("api | topics.create | failIfExists on existing: TopicResponseDto error, statusCode 409, carries the topic", gated(async () => {
  const key = uid("api-topic-fie");
  const t = (await novu.topics.create({ key, name: "First" }, true)).result;
  const err = await rejectsWith(novu.topics.create({ key, name: "Second" }, true), apiErrors.TopicResponseDto, 409);
  assert.equal(err.key, key);
  assert.equal(err.id, t.id);
  assert.equal((await novu.topics.get(key)).result.name, "First");
}));

test("api | topics.get | returns the topic; unknown key: ErrorDto 404", gated(async () => {
  const key = uid("api-topic-get");
  const created = (await novu.topics.create({ key, name: "Get" })).result;
  const t = (await novu.topics.get(key)).result;
  assertTopic(t, key);
  assert.equal(t.id, created.id);
  assert.equal(t.name, "Get");
  await rejectsWith(novu.topics.get(uid("api-topic-missing")), apiErrors.ErrorDto, 404);
}));

test("api | topics.list | key filter and cursor pages ({data, next, previous, totalCount, totalCountCapped})", gated(async () => {
  const prefix = uid("api-topic-list");
  const keys = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
  for (const key of keys) await novu.topics.create({ key, name: key });
  const one = (await novu.topics.list({ key: keys[1] })).result;
  assertCursorList(one);
  assert.deepEqual(one.data.map((t) => t.key), [keys[1]]);
  const p1 = (await novu.topics.list({ limit: 2 })).result;
  assert.equal(p1.data.length, 2);
  assert.equal(typeof p1.next, "string");
  const p2 = (await novu.topics.list({ limit: 2, after: p1.next })).result;
  assert.ok(p2.data.every((t) => !p1.data.some((u) => u.key === t.key)), "pages do not overlap");
  // Walk all of the environment's topics; ours must all appear, none twice.
  const seen = [];
  let after;
  for (let i = 0; i < 1000; i++) {
    const page = (await novu.topics.list({ limit: 100, ...(after ? { after } : {}) })).result;
    assertCursorList(page);
    seen.push(...page.data.map((t) => t.key));
    if (!page.next) break;
    after = page.next;
  }
  for (const key of keys) assert.ok(seen.includes(key), `${key} listed`);
  assert.equal(new Set(seen).size, seen.length, "no topic on two pages");
}));

test("api | topics.update | name and data; unknown key: ErrorDto 404", gated(async () => {
  const key = uid("api-topic-upd");
  await novu.topics.create({ key, name: "Old" });
  const t = (await novu.topics.update({ name: "New", data: { v: 2 } }, key)).result;
  assertTopic(t, key);
  assert.equal(t.name, "New");
  assert.deepEqual(t.data, { v: 2 });
  assert.equal((await novu.topics.get(key)).result.name, "New");
  await rejectsWith(novu.topics.update({ name: "x" }, uid("api-topic-upd-missing")), apiErrors.ErrorDto, 404);
}));

test("api | topics.delete | {acknowledged: true}, also with subscribers; then get is 404", gated(async () => {
  const key = uid("api-topic-del");
  const [s] = await newSubscribers("api-tdel", 1);
  await novu.topics.create({ key, name: "Del" });
  await novu.topics.subscriptions.create({ subscriberIds: [s] }, key);
  const r = (await novu.topics.delete(key)).result;
  assert.equal(r.acknowledged, true);
  await rejectsWith(novu.topics.get(key), apiErrors.ErrorDto, 404);
  await rejectsWith(novu.topics.delete(key), apiErrors.ErrorDto, 404);
}));

test("api | topics.subscriptions.create | 201 {data, meta}; unknown subscribers reported in errors", gated(async () => {
  const key = uid("api-tsub");
  await novu.topics.create({ key, name: "Subs" });
  const ids = await newSubscribers("api-tsub", 2, (i) => ({ firstName: `F${i}`, email: `f${i}@example.com` }));
  const missing = uid("api-tsub-missing");
  const r = (await novu.topics.subscriptions.create({ subscriberIds: [...ids, missing] }, key)).result;
  assert.equal(r.meta.totalCount, 3);
  assert.equal(r.meta.successful, 2);
  assert.equal(r.meta.failed, 1);
  assert.deepEqual(r.data.map((d) => d.subscriber?.subscriberId).sort(), [...ids].sort());
  for (const d of r.data) {
    assert.match(d.id, OBJECT_ID);
    assert.equal(d.topic.key, key);
    assert.match(d.topic.id, OBJECT_ID);
    assert.match(d.subscriber.id, OBJECT_ID);
    assert.match(d.createdAt, ISO_DATE);
  }
  assert.equal(r.data.find((d) => d.subscriber.subscriberId === ids[0]).subscriber.firstName, "F0");
  assert.deepEqual(r.errors?.map((e) => e.subscriberId), [missing]);
}));

test("api | topics.subscriptions.create | {subscriptions: [...]} form; creates a missing topic", gated(async () => {
  const key = uid("api-tsub-auto");
  const [a, b] = await newSubscribers("api-tsub-auto", 2);
  const r = (await novu.topics.subscriptions.create({ subscriptions: [a, { identifier: uid("ident"), subscriberId: b }] }, key)).result;
  assert.equal(r.meta.successful, 2);
  assertTopic((await novu.topics.get(key)).result, key);
}));

test("api | topics.subscriptions.create | a subscription's own identifier is kept and found by getSubscription", gated(async () => {
  const key = uid("api-tsub-ident");
  const [s] = await newSubscribers("api-tsub-ident", 1);
  const identifier = uid("my-subscription");
  const r = (await novu.topics.subscriptions.create({ subscriptions: [{ identifier, subscriberId: s }] }, key)).result;
  assert.equal(r.meta.successful, 1);
  assert.equal(r.data[0].identifier, identifier, "response carries the requested identifier");
  const listed = (await novu.topics.subscriptions.list({ topicKey: key })).result.data;
  assert.deepEqual(listed.map((d) => d.identifier), [identifier]);
  const got = (await novu.topics.subscriptions.getSubscription(key, identifier)).result;
  assert.equal(got.identifier, identifier);
}));

test("api | topics.subscriptions.list | items with identifier, topic and subscriber; subscriberId filter", gated(async () => {
  const key = uid("api-tlist");
  await novu.topics.create({ key, name: "L" });
  const ids = await newSubscribers("api-tlist", 3);
  await novu.topics.subscriptions.create({ subscriberIds: ids }, key);
  const r = (await novu.topics.subscriptions.list({ topicKey: key })).result;
  assertCursorList(r);
  assert.deepEqual(r.data.map((d) => d.subscriber.subscriberId).sort(), [...ids].sort());
  for (const d of r.data) {
    assert.match(d.id, OBJECT_ID);
    assert.equal(typeof d.identifier, "string");
    assert.equal(d.topic.key, key);
  }
  const one = (await novu.topics.subscriptions.list({ topicKey: key, subscriberId: ids[1] })).result;
  assert.deepEqual(one.data.map((d) => d.subscriber.subscriberId), [ids[1]]);
  const page = (await novu.topics.subscriptions.list({ topicKey: key, limit: 2 })).result;
  assert.equal(page.data.length, 2);
  assert.equal(typeof page.next, "string");
  const rest = (await novu.topics.subscriptions.list({ topicKey: key, limit: 2, after: page.next })).result;
  assert.equal(rest.data.length, 1);
  assert.equal(rest.next, null);
  assert.equal(typeof rest.previous, "string");
  const back = (await novu.topics.subscriptions.list({ topicKey: key, limit: 2, before: rest.previous })).result;
  assert.deepEqual(back.data.map((d) => d.id), page.data.map((d) => d.id), "before: previous page again");
}));

test("api | topics.subscriptions.getSubscription | by identifier from the list", gated(async () => {
  const key = uid("api-tget");
  const [s] = await newSubscribers("api-tget", 1);
  await novu.topics.subscriptions.create({ subscriberIds: [s] }, key);
  const listed = (await novu.topics.subscriptions.list({ topicKey: key })).result.data[0];
  const r = (await novu.topics.subscriptions.getSubscription(key, listed.identifier)).result;
  assert.equal(r.id, listed.id);
  assert.equal(r.identifier, listed.identifier);
  await rejectsWith(novu.topics.subscriptions.getSubscription(key, uid("nobody")), apiErrors.ErrorDto, 404);
}));

test("api | topics.subscriptions.delete | DELETE with JSON body removes them; meta counts", gated(async () => {
  const key = uid("api-tdelsub");
  const ids = await newSubscribers("api-tdelsub", 3);
  await novu.topics.subscriptions.create({ subscriberIds: ids }, key);
  const r = (await novu.topics.subscriptions.delete({ subscriberIds: [ids[0], ids[2]] }, key)).result;
  assert.equal(r.meta.successful, 2);
  assert.deepEqual(r.data.map((d) => d.subscriber?.subscriberId).sort(), [ids[0], ids[2]].sort());
  const left = (await novu.topics.subscriptions.list({ topicKey: key })).result;
  assert.deepEqual(left.data.map((d) => d.subscriber.subscriberId), [ids[1]]);
}));

test("api | topics.subscribers.retrieve | v1 membership: TopicSubscriberDto; non-member ErrorDto 404", gated(async () => {
  const key = uid("api-tmember");
  const [member, other] = await newSubscribers("api-tmember", 2);
  await novu.topics.subscriptions.create({ subscriberIds: [member] }, key);
  const topic = (await novu.topics.get(key)).result;
  const r = (await novu.topics.subscribers.retrieve(member, key)).result;
  assert.equal(r.topicKey, key);
  assert.equal(r.externalSubscriberId, member);
  assert.equal(r.topicId, topic.id);
  assert.equal(r.subscriberId, (await novu.subscribers.retrieve(member)).result.id);
  assert.match(r.organizationId, OBJECT_ID);
  assert.match(r.environmentId, OBJECT_ID);
  await rejectsWith(novu.topics.subscribers.retrieve(other, key), apiErrors.ErrorDto, 404);
}));

test("api | subscribers.search | by subscriberId and by email; list shape", gated(async () => {
  const subscriberId = uid("api-search");
  const email = `${subscriberId}@example.com`.toLowerCase();
  await novu.subscribers.create({ subscriberId, email, firstName: "Searchable" });
  const byId = (await novu.subscribers.search({ subscriberId })).result;
  assertCursorList(byId);
  assert.deepEqual(byId.data.map((s) => s.subscriberId), [subscriberId]);
  assert.equal(byId.data[0].firstName, "Searchable");
  const byEmail = (await novu.subscribers.search({ email })).result;
  assert.deepEqual(byEmail.data.map((s) => s.subscriberId), [subscriberId]);
  const none = (await novu.subscribers.search({ subscriberId: uid("api-search-none") })).result;
  assert.deepEqual(none.data, []);
  assert.equal(none.totalCount, 0);
}));

test("api | subscribers.search | limit and after cursor page through results", gated(async () => {
  const page1 = (await novu.subscribers.search({ limit: 2 })).result;
  assertCursorList(page1);
  assert.equal(page1.data.length, 2, "the environment has more than 2 subscribers by now");
  assert.equal(typeof page1.next, "string");
  const page2 = (await novu.subscribers.search({ limit: 2, after: page1.next })).result;
  const ids1 = page1.data.map((s) => s.subscriberId);
  assert.ok(page2.data.every((s) => !ids1.includes(s.subscriberId)), "pages do not overlap");
}));

test("api | subscribers.topics.list | the subscriber's subscriptions, key filter", gated(async () => {
  const [s] = await newSubscribers("api-stopics", 1);
  const keys = [uid("api-stopics-a"), uid("api-stopics-b")];
  for (const key of keys) await novu.topics.subscriptions.create({ subscriberIds: [s] }, key);
  const r = (await novu.subscribers.topics.list({ subscriberId: s })).result;
  assertCursorList(r);
  assert.deepEqual(r.data.map((d) => d.topic.key).sort(), [...keys].sort());
  for (const d of r.data) {
    assert.equal(d.subscriber.subscriberId, s);
    assert.equal(typeof d.identifier, "string");
  }
  const one = (await novu.subscribers.topics.list({ subscriberId: s, key: keys[0] })).result;
  assert.deepEqual(one.data.map((d) => d.topic.key), [keys[0]]);
  await rejectsWith(novu.subscribers.topics.list({ subscriberId: uid("api-stopics-missing") }), apiErrors.ErrorDto, 404);
}));
