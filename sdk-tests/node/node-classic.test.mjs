// @novu/node 2.6.6 (classic, axios): subscribers and integrations through the SDK calls. It returns
// raw axios responses (callers read `res.data.data`) and rejects with AxiosError on any non-2xx.

import test from "node:test";
import assert from "node:assert/strict";
import {
  nodeClient,
  axiosRejects,
  assertErrorBody,
  setupIntegration,
  uid,
  ISO_DATE,
  OBJECT_ID,
  UNKNOWN_OBJECT_ID,
  ISOLATED_API_KEY,
} from "./lib.mjs";

const novu = nodeClient();
// A user whose backendUrl ends in "/" makes the SDK call "//v1/...".
const slash = nodeClient({ trailingSlash: true });

const fcm = await setupIntegration("fcm", "push");
const slack = await setupIntegration("slack", "chat");

function assertSubscriber(s, subscriberId) {
  assert.equal(s.subscriberId, subscriberId);
  assert.match(s._id, OBJECT_ID);
  assert.match(s._organizationId, OBJECT_ID);
  assert.match(s._environmentId, OBJECT_ID);
  assert.equal(s.deleted, false);
  assert.match(s.createdAt, ISO_DATE);
  assert.match(s.updatedAt, ISO_DATE);
}

const channelOf = (s, providerId) => s.channels.find((c) => c.providerId === providerId);

test("node | subscribers.identify | creates (201) with profile fields; again updates", async () => {
  const subscriberId = uid("node-identify");
  const res = await novu.subscribers.identify(subscriberId, {
    firstName: "Ada",
    lastName: "Lovelace",
    email: "ada@example.com",
    phone: "+15555550100",
    avatar: "https://example.com/a.png",
    locale: "en-US",
    data: { plan: "pro" },
  });
  assert.equal(res.status, 201);
  const s = res.data.data;
  assertSubscriber(s, subscriberId);
  assert.equal(s.firstName, "Ada");
  assert.equal(s.email, "ada@example.com");
  assert.deepEqual(s.data, { plan: "pro" });
  const again = (await novu.subscribers.identify(subscriberId, { firstName: "Grace" })).data.data;
  assert.equal(again._id, s._id);
  assert.equal(again.firstName, "Grace");
  assert.equal(again.lastName, "Lovelace");
});

test("node | subscribers.identify | with channels: stored and returned (Herald returns them)", async () => {
  const subscriberId = uid("node-identify-ch");
  const s = (
    await novu.subscribers.identify(subscriberId, {
      channels: [
        {
          providerId: "slack",
          integrationIdentifier: slack.identifier,
          credentials: { webhookUrl: "https://hooks.slack.com/services/x" },
        },
      ],
    })
  ).data.data;
  const ch = channelOf(s, "slack");
  assert.equal(ch?.credentials.webhookUrl, "https://hooks.slack.com/services/x");
  assert.equal(ch._integrationId, slack._id);
});

test("node | subscribers.identify | base URL ending in / (SDK calls //v1/subscribers)", async () => {
  const subscriberId = uid("node-slash");
  const res = await slash.subscribers.identify(subscriberId, { firstName: "Slash" });
  assert.equal(res.status, 201);
  assert.equal(res.config.baseURL.endsWith("//v1"), true, res.config.baseURL);
  assert.equal((await slash.subscribers.get(subscriberId)).data.data.firstName, "Slash");
});

test("node | subscribers.get | returns the subscriber in {data}", async () => {
  const subscriberId = uid("node-get");
  await novu.subscribers.identify(subscriberId, { lastName: "Get" });
  const res = await novu.subscribers.get(subscriberId);
  assert.equal(res.status, 200);
  assertSubscriber(res.data.data, subscriberId);
  assert.equal(res.data.data.lastName, "Get");
});

test("node | subscribers.get | unknown subscriber: AxiosError 404 with Novu's error body", async () => {
  const subscriberId = uid("node-missing");
  const body = await axiosRejects(novu.subscribers.get(subscriberId), 404);
  assertErrorBody(body, 404);
  assert.match(body.message, new RegExp(subscriberId));
});

test(
  "node | subscribers.list | pages of {page, pageSize, hasMore, data} (nearly empty environment)",
  { skip: ISOLATED_API_KEY ? false : "HERALD_ISOLATED_API_KEY not set" },
  async () => {
    const iso = nodeClient({ key: ISOLATED_API_KEY });
    const ids = [uid("node-list-a"), uid("node-list-b"), uid("node-list-c")];
    for (const id of ids) await iso.subscribers.identify(id, { firstName: "L" });
    try {
      const seen = [];
      for (let page = 0; page < 1000; page++) {
        const res = await iso.subscribers.list(page, 2);
        assert.equal(res.status, 200);
        assert.equal(res.data.page, page);
        assert.equal(res.data.pageSize, 2);
        assert.ok(res.data.data.length <= 2);
        assert.equal(res.data.hasMore, res.data.data.length === 2);
        for (const s of res.data.data) {
          assert.equal(typeof s.subscriberId, "string");
          seen.push(s.subscriberId);
        }
        if (!res.data.hasMore) break;
      }
      for (const id of ids) assert.ok(seen.includes(id), `${id} listed`);
      assert.equal(new Set(seen).size, seen.length, "no subscriber on two pages");
    } finally {
      for (const id of ids) await iso.subscribers.delete(id);
    }
  },
);

test("node | subscribers.update | PUT sets fields, keeps others", async () => {
  const subscriberId = uid("node-update");
  await novu.subscribers.identify(subscriberId, { firstName: "A", lastName: "B", email: "a@example.com" });
  const res = await novu.subscribers.update(subscriberId, { firstName: "C", phone: "+15555550101" });
  assert.equal(res.status, 200);
  const s = res.data.data;
  assertSubscriber(s, subscriberId);
  assert.equal(s.firstName, "C");
  assert.equal(s.lastName, "B");
  assert.equal(s.phone, "+15555550101");
  assert.equal(s.email, "a@example.com");
});

test("node | subscribers.update | unknown subscriber: AxiosError 400 (Novu's SubscriberId not found)", async () => {
  const subscriberId = uid("node-update-missing");
  const body = await axiosRejects(novu.subscribers.update(subscriberId, { firstName: "x" }), 400);
  assert.match(body.message, new RegExp(`SubscriberId: ${subscriberId} not found`));
});

test("node | subscribers.delete | {acknowledged, status}; then get is 404", async () => {
  const subscriberId = uid("node-delete");
  await novu.subscribers.identify(subscriberId, {});
  const res = await novu.subscribers.delete(subscriberId);
  assert.equal(res.status, 200);
  assert.deepEqual(res.data.data, { acknowledged: true, status: "deleted" });
  await axiosRejects(novu.subscribers.get(subscriberId), 404);
  await axiosRejects(novu.subscribers.delete(subscriberId), 404);
});

test("node | subscribers.bulkCreate | 201 {created, updated, failed}", async () => {
  const existing = uid("node-bulk-existing");
  await novu.subscribers.identify(existing, {});
  const fresh = [uid("node-bulk-a"), uid("node-bulk-b")];
  const res = await novu.subscribers.bulkCreate([
    { subscriberId: fresh[0], firstName: "A" },
    { subscriberId: existing, firstName: "Updated" },
    { subscriberId: fresh[1], email: "b@example.com" },
  ]);
  assert.equal(res.status, 201);
  const r = res.data.data;
  assert.deepEqual(r.created.map((c) => c.subscriberId), fresh);
  assert.deepEqual(r.updated.map((c) => c.subscriberId), [existing]);
  assert.deepEqual(r.failed, []);
  assert.equal((await novu.subscribers.get(existing)).data.data.firstName, "Updated");
});

test("node | subscribers.setCredentials | PUT device tokens, with integrationIdentifier", async () => {
  const subscriberId = uid("node-setcred");
  await novu.subscribers.identify(subscriberId, {});
  const res = await novu.subscribers.setCredentials(subscriberId, "fcm", { deviceTokens: ["n1", "n2", "n1"] }, fcm.identifier);
  assert.equal(res.status, 200);
  const s = res.data.data;
  assertSubscriber(s, subscriberId);
  const ch = channelOf(s, "fcm");
  assert.deepEqual(ch.credentials.deviceTokens, ["n1", "n2"]);
  assert.equal(ch._integrationId, fcm._id);
  assert.equal(ch.integrationIdentifier, fcm.identifier);
  const replaced = (await novu.subscribers.setCredentials(subscriberId, "fcm", { deviceTokens: ["n3"] }, fcm.identifier)).data.data;
  assert.deepEqual(channelOf(replaced, "fcm").credentials.deviceTokens, ["n3"]);
});

test("node | subscribers.setCredentials | chat webhookUrl without integrationIdentifier", async () => {
  const subscriberId = uid("node-setcred-chat");
  await novu.subscribers.identify(subscriberId, {});
  // Some active slack integration exists (this file's); the newest active one is used.
  const s = (await novu.subscribers.setCredentials(subscriberId, "slack", { webhookUrl: "https://hooks.slack.com/y" })).data.data;
  const ch = channelOf(s, "slack");
  assert.equal(ch.credentials.webhookUrl, "https://hooks.slack.com/y");
  assert.match(ch._integrationId, OBJECT_ID);
});

test("node | subscribers.unsetCredentials | PUT deviceTokens [] clears the tokens", async () => {
  const subscriberId = uid("node-unset");
  await novu.subscribers.identify(subscriberId, {});
  await novu.subscribers.setCredentials(subscriberId, "fcm", { deviceTokens: ["u1"] }, fcm.identifier);
  const res = await novu.subscribers.unsetCredentials(subscriberId, "fcm");
  assert.equal(res.status, 200);
  const s = (await novu.subscribers.get(subscriberId)).data.data;
  for (const ch of s.channels.filter((c) => c.providerId === "fcm")) {
    assert.deepEqual(ch.credentials.deviceTokens ?? [], [], JSON.stringify(ch));
  }
});

test("node | subscribers.deleteCredentials | 204; channel removed", async () => {
  const subscriberId = uid("node-delcred");
  await novu.subscribers.identify(subscriberId, {});
  await novu.subscribers.setCredentials(subscriberId, "fcm", { deviceTokens: ["d1"] }, fcm.identifier);
  const res = await novu.subscribers.deleteCredentials(subscriberId, "fcm");
  assert.equal(res.status, 204);
  assert.equal(channelOf((await novu.subscribers.get(subscriberId)).data.data, "fcm"), undefined);
  await axiosRejects(novu.subscribers.deleteCredentials(uid("node-delcred-missing"), "fcm"), 404);
});

test("node | subscribers.updateOnlineStatus | {online} body accepted; isOnline set", async () => {
  const subscriberId = uid("node-online");
  await novu.subscribers.identify(subscriberId, {});
  const on = await novu.subscribers.updateOnlineStatus(subscriberId, true);
  assert.equal(on.status, 200);
  assert.equal(on.data.data.isOnline, true);
  const off = (await novu.subscribers.updateOnlineStatus(subscriberId, false)).data.data;
  assert.equal(off.isOnline, false);
  assert.match(off.lastOnlineAt, ISO_DATE);
  await axiosRejects(novu.subscribers.updateOnlineStatus(uid("node-online-missing"), true), 404);
});

function assertIntegration(i) {
  assert.match(i._id, OBJECT_ID);
  assert.match(i._environmentId, OBJECT_ID);
  assert.match(i._organizationId, OBJECT_ID);
  assert.equal(typeof i.name, "string");
  assert.equal(typeof i.identifier, "string");
  assert.equal(i.deleted, false);
}

test("node | integrations.create | 201 with the given fields", async () => {
  const identifier = uid("node-int");
  const res = await novu.integrations.create("webex-messaging", {
    channel: "chat",
    name: "Webex",
    identifier,
    credentials: { apiKey: "k" },
    active: true,
    check: false,
  });
  assert.equal(res.status, 201);
  const i = res.data.data;
  assertIntegration(i);
  assert.equal(i.providerId, "webex-messaging");
  assert.equal(i.channel, "chat");
  assert.equal(i.identifier, identifier);
  assert.equal(i.active, true);
  assert.deepEqual(i.credentials, { apiKey: "k" });
});

test("node | integrations.getAll | includes active and inactive", async () => {
  const a = (await novu.integrations.create("ryver", { channel: "chat", identifier: uid("node-ga-a"), active: true })).data.data;
  const b = (await novu.integrations.create("ryver", { channel: "chat", identifier: uid("node-ga-b"), active: false })).data.data;
  const res = await slash.integrations.getAll();
  assert.equal(res.status, 200);
  const ids = res.data.data.map((i) => i._id);
  assert.ok(ids.includes(a._id) && ids.includes(b._id));
});

test("node | integrations.getActive | only active ones", async () => {
  const a = (await novu.integrations.create("line", { channel: "chat", identifier: uid("node-gact-a"), active: true })).data.data;
  const b = (await novu.integrations.create("line", { channel: "chat", identifier: uid("node-gact-b"), active: false })).data.data;
  const list = (await novu.integrations.getActive()).data.data;
  const ids = list.map((i) => i._id);
  assert.ok(ids.includes(a._id));
  assert.ok(!ids.includes(b._id));
  assert.ok(list.every((i) => i.active));
});

test("node | integrations.update | changes name and active", async () => {
  const i = (await novu.integrations.create("getstream", { channel: "chat", identifier: uid("node-upd") })).data.data;
  const res = await novu.integrations.update(i._id, { name: "Renamed", active: true, credentials: { apiKey: "z" } });
  assert.equal(res.status, 200);
  const u = res.data.data;
  assertIntegration(u);
  assert.equal(u._id, i._id);
  assert.equal(u.name, "Renamed");
  assert.equal(u.active, true);
  assert.deepEqual(u.credentials, { apiKey: "z" });
  await axiosRejects(novu.integrations.update(UNKNOWN_OBJECT_ID, { name: "x" }), 404);
});

test("node | integrations.delete | 200; gone from getAll", async () => {
  const i = (await novu.integrations.create("grafana-on-call", { channel: "chat", identifier: uid("node-del") })).data.data;
  const res = await novu.integrations.delete(i._id);
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(res.data.data));
  assert.ok(!(await novu.integrations.getAll()).data.data.some((x) => x._id === i._id));
  await axiosRejects(novu.integrations.delete(i._id), 404);
});

// Only this file makes chat integrations primary among the Node suites (api uses push).
test("node | integrations.setIntegrationAsPrimary | primary true; previous chat primary loses it", async () => {
  const a = (await novu.integrations.create("chat-webhook", { channel: "chat", identifier: uid("node-prim-a"), active: true })).data.data;
  const b = (await novu.integrations.create("chat-webhook", { channel: "chat", identifier: uid("node-prim-b"), active: true })).data.data;
  const res = await novu.integrations.setIntegrationAsPrimary(a._id);
  assert.equal(res.status, 200);
  assert.equal(res.data.data._id, a._id);
  assert.equal(res.data.data.primary, true);
  await novu.integrations.setIntegrationAsPrimary(b._id);
  const all = (await novu.integrations.getAll()).data.data;
  assert.equal(all.find((x) => x._id === a._id).primary, false);
  assert.equal(all.find((x) => x._id === b._id).primary, true);
  await axiosRejects(novu.integrations.setIntegrationAsPrimary(UNKNOWN_OBJECT_ID), 404);
});

test("node | subscribers.get | unknown API key: AxiosError 401 with Novu's error body", async () => {
  const body = await axiosRejects(nodeClient({ key: "not-a-key-" + uid("k") }).subscribers.get(uid("node-401")), 401);
  assertErrorBody(body, 401);
});
