// @novu/api 3.19.1: subscriber credentials (PUT replace, PATCH append, DELETE 204) and the online
// flag, through the SDK calls.

import test from "node:test";
import assert from "node:assert/strict";
import {
  apiClient,
  apiErrors,
  assertApiSubscriber,
  rejectsWith,
  setupIntegration,
  uid,
  ISO_DATE,
} from "./lib.mjs";

const novu = apiClient();

// One push and one chat integration for this file; calls name them by identifier, so integrations
// created concurrently by other files cannot capture these channels.
const fcm = await setupIntegration("fcm", "push");
const slack = await setupIntegration("slack", "chat");

async function newSubscriber(prefix) {
  const subscriberId = uid(prefix);
  await novu.subscribers.create({ subscriberId, firstName: "Cred" });
  return subscriberId;
}

const channelOf = (s, providerId) => {
  const matching = (s.channels ?? []).filter((c) => c.providerId === providerId);
  assert.ok(matching.length <= 1, `one ${providerId} channel, got ${JSON.stringify(s.channels)}`);
  return matching[0];
};

test("api | subscribers.credentials.update | PUT sets deduplicated device tokens bound to the integration", async () => {
  const subscriberId = await newSubscriber("api-cred-put");
  const res = await novu.subscribers.credentials.update(
    {
      providerId: "fcm",
      integrationIdentifier: fcm.identifier,
      credentials: { deviceTokens: ["tok-1", "tok-2", "tok-1"] },
    },
    subscriberId,
  );
  const s = res.result;
  assertApiSubscriber(s, subscriberId);
  const ch = channelOf(s, "fcm");
  assert.ok(ch, "fcm channel present");
  assert.deepEqual(ch.credentials.deviceTokens, ["tok-1", "tok-2"]);
  assert.equal(ch.integrationId, fcm._id);
  assert.equal(ch.integrationIdentifier, fcm.identifier);
  const again = (await novu.subscribers.retrieve(subscriberId)).result;
  assert.deepEqual(channelOf(again, "fcm").credentials.deviceTokens, ["tok-1", "tok-2"]);
});

test("api | subscribers.credentials.update | PUT replaces existing tokens; [] clears them", async () => {
  const subscriberId = await newSubscriber("api-cred-replace");
  const put = (deviceTokens) =>
    novu.subscribers.credentials.update(
      { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { deviceTokens } },
      subscriberId,
    );
  await put(["a", "b"]);
  const s = (await put(["c"])).result;
  assert.deepEqual(channelOf(s, "fcm").credentials.deviceTokens, ["c"]);
  const cleared = (await put([])).result;
  assert.deepEqual(channelOf(cleared, "fcm").credentials.deviceTokens ?? [], []);
});

test("api | subscribers.credentials.update | chat webhookUrl and all eight credential fields round-trip", async () => {
  const subscriberId = await newSubscriber("api-cred-slack");
  const credentials = {
    webhookUrl: "https://hooks.slack.com/services/T000/B000/XXXX",
    channel: "#general",
    alertUid: "alert-1",
    title: "Title",
    imageUrl: "https://example.com/i.png",
    state: "state-1",
    externalUrl: "https://example.com/x",
  };
  const s = (
    await novu.subscribers.credentials.update(
      { providerId: "slack", integrationIdentifier: slack.identifier, credentials },
      subscriberId,
    )
  ).result;
  const ch = channelOf(s, "slack");
  assert.deepEqual(ch.credentials, credentials);
  assert.equal(ch.integrationId, slack._id);
});

test("api | subscribers.credentials.update | unknown subscriber: ErrorDto 400 (Novu's SubscriberId not found)", async () => {
  const subscriberId = uid("api-cred-missing");
  const err = await rejectsWith(
    novu.subscribers.credentials.update(
      { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { deviceTokens: ["x"] } },
      subscriberId,
    ),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(err.message, new RegExp(`SubscriberId: ${subscriberId} not found`));
});

test("api | subscribers.credentials.update | provider without an active integration: ErrorDto 400", async () => {
  const subscriberId = await newSubscriber("api-cred-noint");
  const err = await rejectsWith(
    novu.subscribers.credentials.update(
      { providerId: "fcm", integrationIdentifier: uid("no-such-integration"), credentials: { deviceTokens: ["x"] } },
      subscriberId,
    ),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(err.message, /do not have active fcm integration/);
});

test("api | subscribers.credentials.append | PATCH unions tokens, keeps order, no duplicates", async () => {
  const subscriberId = await newSubscriber("api-cred-patch");
  const patch = (deviceTokens) =>
    novu.subscribers.credentials.append(
      { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { deviceTokens } },
      subscriberId,
    );
  await patch(["a", "b"]);
  const s = (await patch(["b", "c"])).result;
  assertApiSubscriber(s, subscriberId);
  const ch = channelOf(s, "fcm");
  assert.deepEqual(ch.credentials.deviceTokens, ["a", "b", "c"]);
  assert.equal(ch.integrationId, fcm._id);
});

test("api | subscribers.credentials.append | PATCH without deviceTokens keeps the stored tokens (Herald's deliberate difference)", async () => {
  const subscriberId = await newSubscriber("api-cred-keep");
  await novu.subscribers.credentials.update(
    { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { deviceTokens: ["keep-1", "keep-2"] } },
    subscriberId,
  );
  const s = (
    await novu.subscribers.credentials.append(
      { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { title: "Phone" } },
      subscriberId,
    )
  ).result;
  const ch = channelOf(s, "fcm");
  assert.deepEqual(ch.credentials.deviceTokens, ["keep-1", "keep-2"]);
  assert.equal(ch.credentials.title, "Phone");
});

test("api | subscribers.credentials.delete | 204 (SDK returns no body); channel removed; repeat is still 204", async () => {
  const subscriberId = await newSubscriber("api-cred-del");
  await novu.subscribers.credentials.update(
    { providerId: "fcm", integrationIdentifier: fcm.identifier, credentials: { deviceTokens: ["gone"] } },
    subscriberId,
  );
  await novu.subscribers.credentials.update(
    { providerId: "slack", integrationIdentifier: slack.identifier, credentials: { webhookUrl: "https://hooks.slack.com/x" } },
    subscriberId,
  );
  const res = await novu.subscribers.credentials.delete(subscriberId, "fcm");
  // The SDK accepts only 204 here (M.nil(204)); its result carries response headers only.
  assert.ok(res === undefined || (typeof res === "object" && !("result" in res)), JSON.stringify(res));
  const s = (await novu.subscribers.retrieve(subscriberId)).result;
  assert.equal(channelOf(s, "fcm"), undefined, "fcm channel removed");
  assert.ok(channelOf(s, "slack"), "other channels kept");
  await novu.subscribers.credentials.delete(subscriberId, "fcm");
});

test("api | subscribers.credentials.delete | unknown subscriber: ErrorDto 404", async () => {
  await rejectsWith(
    novu.subscribers.credentials.delete(uid("api-cred-del-missing"), "fcm"),
    apiErrors.ErrorDto,
    404,
  );
});

test("api | subscribers.properties.updateOnlineFlag | sets isOnline and lastOnlineAt", async () => {
  const subscriberId = await newSubscriber("api-online");
  const on = (await novu.subscribers.properties.updateOnlineFlag({ isOnline: true }, subscriberId)).result;
  assertApiSubscriber(on, subscriberId);
  assert.equal(on.isOnline, true);
  const off = (await novu.subscribers.properties.updateOnlineFlag({ isOnline: false }, subscriberId)).result;
  assert.equal(off.isOnline, false);
  assert.match(off.lastOnlineAt, ISO_DATE);
  assert.equal((await novu.subscribers.retrieve(subscriberId)).result.isOnline, false);
});

test("api | subscribers.properties.updateOnlineFlag | unknown subscriber: ErrorDto 404", async () => {
  await rejectsWith(
    novu.subscribers.properties.updateOnlineFlag({ isOnline: true }, uid("api-online-missing")),
    apiErrors.ErrorDto,
    404,
  );
});
