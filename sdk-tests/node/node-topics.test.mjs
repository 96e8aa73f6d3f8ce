// @novu/node 2.6.6: v1 topics (create, addSubscribers, getSubscriber/checkSubscriber,
// removeSubscribers, list, get, rename, delete) through the SDK calls. Skipped while the server
// answers `404 Cannot GET /v2/topics`; once topics are served every test here must pass.

import test from "node:test";
import assert from "node:assert/strict";
import { nodeClient, axiosRejects, assertErrorBody, gated, uid, OBJECT_ID } from "./lib.mjs";

const novu = nodeClient();
const slash = nodeClient({ trailingSlash: true });

async function newSubscribers(prefix, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = uid(`${prefix}${i}`);
    await novu.subscribers.identify(id, { firstName: `T${i}` });
    ids.push(id);
  }
  return ids;
}

test("node | topics.create | 201 {_id, key}", gated(async () => {
  const key = uid("node-topic");
  const res = await novu.topics.create({ key, name: "News" });
  assert.equal(res.status, 201);
  assert.match(res.data.data._id, OBJECT_ID);
  assert.equal(res.data.data.key, key);
  const body = await axiosRejects(novu.topics.create({ key, name: "Again" }), 409);
  assertErrorBody(body, 409);
}));

test("node | topics.get | {key, name, subscribers: [ids]}; unknown 404", gated(async () => {
  const key = uid("node-topic-get");
  const created = (await novu.topics.create({ key, name: "Get" })).data.data;
  const ids = await newSubscribers("node-tget", 2);
  await novu.topics.addSubscribers(key, { subscribers: ids });
  const res = await slash.topics.get(key);
  assert.equal(res.status, 200);
  const t = res.data.data;
  assert.equal(t._id, created._id);
  assert.equal(t.key, key);
  assert.equal(t.name, "Get");
  assert.match(t._organizationId, OBJECT_ID);
  assert.match(t._environmentId, OBJECT_ID);
  assert.deepEqual([...t.subscribers].sort(), [...ids].sort());
  await axiosRejects(novu.topics.get(uid("node-topic-missing")), 404);
}));

test("node | topics.addSubscribers | {succeeded, failed: {notFound}}", gated(async () => {
  const key = uid("node-topic-add");
  await novu.topics.create({ key, name: "Add" });
  const ids = await newSubscribers("node-tadd", 2);
  const missing = uid("node-tadd-missing");
  const res = await novu.topics.addSubscribers(key, { subscribers: [...ids, missing] });
  assert.ok(res.status === 200 || res.status === 201, `status ${res.status}`);
  const r = res.data.data;
  assert.deepEqual([...r.succeeded].sort(), [...ids].sort());
  assert.deepEqual(r.failed?.notFound, [missing]);
}));

test("node | topics.getSubscriber | member: TopicSubscriberDto; non-member 404 (checkSubscriber too)", gated(async () => {
  const key = uid("node-topic-member");
  await novu.topics.create({ key, name: "M" });
  const [member, other] = await newSubscribers("node-tmember", 2);
  await novu.topics.addSubscribers(key, { subscribers: [member] });
  const r = (await novu.topics.getSubscriber(key, member)).data.data;
  assert.equal(r.topicKey, key);
  assert.equal(r.externalSubscriberId, member);
  for (const k of ["_organizationId", "_environmentId", "_subscriberId", "_topicId"]) assert.match(r[k], OBJECT_ID, k);
  assert.equal((await novu.topics.checkSubscriber(key, member)).status, 200);
  await axiosRejects(novu.topics.getSubscriber(key, other), 404);
  await axiosRejects(novu.topics.checkSubscriber(key, other), 404);
}));

test("node | topics.removeSubscribers | removed from the topic", gated(async () => {
  const key = uid("node-topic-rm");
  await novu.topics.create({ key, name: "Rm" });
  const ids = await newSubscribers("node-trm", 2);
  await novu.topics.addSubscribers(key, { subscribers: ids });
  const res = await novu.topics.removeSubscribers(key, { subscribers: [ids[0]] });
  assert.ok(res.status >= 200 && res.status < 300);
  assert.deepEqual((await novu.topics.get(key)).data.data.subscribers, [ids[1]]);
  await axiosRejects(novu.topics.getSubscriber(key, ids[0]), 404);
}));

test("node | topics.list | {page, pageSize, totalCount, data}; key filter; pageSize", gated(async () => {
  const key = uid("node-topic-list");
  await novu.topics.create({ key, name: "List" });
  const res = await novu.topics.list({ key });
  assert.equal(res.status, 200);
  assert.equal(res.data.page, 0);
  assert.equal(typeof res.data.pageSize, "number");
  assert.equal(res.data.totalCount, 1);
  assert.deepEqual(res.data.data.map((t) => t.key), [key]);
  const paged = await novu.topics.list({ page: 0, pageSize: 2 });
  assert.equal(paged.data.pageSize, 2);
  assert.ok(paged.data.data.length <= 2);
  assert.ok(paged.data.totalCount >= 1);
}));

test("node | topics.rename | new name returned", gated(async () => {
  const key = uid("node-topic-ren");
  await novu.topics.create({ key, name: "Old" });
  const res = await novu.topics.rename(key, "New");
  assert.equal(res.status, 200);
  assert.equal(res.data.data.key, key);
  assert.equal(res.data.data.name, "New");
  assert.equal((await novu.topics.get(key)).data.data.name, "New");
}));

test("node | topics.delete | 204 when empty; 409 while it has subscribers (Novu v1)", gated(async () => {
  const key = uid("node-topic-del");
  await novu.topics.create({ key, name: "Del" });
  const [s] = await newSubscribers("node-tdel", 1);
  await novu.topics.addSubscribers(key, { subscribers: [s] });
  await axiosRejects(novu.topics.delete(key), 409);
  await novu.topics.removeSubscribers(key, { subscribers: [s] });
  const res = await novu.topics.delete(key);
  assert.equal(res.status, 204);
  await axiosRejects(novu.topics.get(key), 404);
}));
