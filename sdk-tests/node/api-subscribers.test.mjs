// @novu/api 3.19.1: subscribers (v2 create/retrieve/patch/delete, v1 bulk) through the SDK calls.
// Test names are "sdk | operation | what": run.sh builds its compatibility matrix from them.

import test from "node:test";
import assert from "node:assert/strict";
import { apiClient, apiErrors, assertApiSubscriber, rejectsWith, uid, OBJECT_ID } from "./lib.mjs";

const novu = apiClient();

const profile = () => ({
  firstName: "Ada",
  lastName: "Lovelace",
  email: `${uid("ada")}@example.com`.toLowerCase(),
  phone: "+15555550100",
  avatar: "https://example.com/ada.png",
  locale: "en-US",
  timezone: "Europe/London",
  data: { plan: "pro", seats: 3, nested: { ok: true } },
});

test("api | subscribers.create | new subscriber: 201 with every profile field", async () => {
  const subscriberId = uid("api-create");
  const p = profile();
  const res = await novu.subscribers.create({ subscriberId, ...p });
  const s = res.result;
  assertApiSubscriber(s, subscriberId);
  for (const k of ["firstName", "lastName", "email", "phone", "avatar", "locale", "timezone"]) {
    assert.equal(s[k], p[k], k);
  }
  assert.deepEqual(s.data, p.data);
  assert.deepEqual(s.channels ?? [], []);
});

test("api | subscribers.create | existing subscriber is updated (upsert), same id", async () => {
  const subscriberId = uid("api-upsert");
  const first = (await novu.subscribers.create({ subscriberId, firstName: "A", lastName: "B" })).result;
  const second = (await novu.subscribers.create({ subscriberId, firstName: "C" })).result;
  assert.equal(second.id, first.id);
  assert.equal(second.firstName, "C");
  assert.equal(second.lastName, "B", "fields not sent are kept");
});

test("api | subscribers.create | failIfExists on existing: SubscriberResponseDto error, statusCode 409, carries the subscriber", async () => {
  const subscriberId = uid("api-fail-if-exists");
  const created = (await novu.subscribers.create({ subscriberId, firstName: "Orig" }, true)).result;
  assert.equal(created.firstName, "Orig", "failIfExists on a new subscriber creates it");
  const err = await rejectsWith(
    novu.subscribers.create({ subscriberId, firstName: "Other" }, true),
    apiErrors.SubscriberResponseDto,
    409,
  );
  assert.equal(err.subscriberId, subscriberId);
  assert.equal(err.id, created.id);
  assert.equal(err.firstName, "Orig", "409 carries the stored subscriber, unchanged");
  const after = (await novu.subscribers.retrieve(subscriberId)).result;
  assert.equal(after.firstName, "Orig");
});

test("api | subscribers.create | failIfExists=false behaves as upsert", async () => {
  const subscriberId = uid("api-fail-false");
  await novu.subscribers.create({ subscriberId, firstName: "A" }, false);
  const s = (await novu.subscribers.create({ subscriberId, firstName: "B" }, false)).result;
  assert.equal(s.firstName, "B");
});

test("api | subscribers.retrieve | returns the stored subscriber", async () => {
  const subscriberId = uid("api-retrieve");
  const p = profile();
  const created = (await novu.subscribers.create({ subscriberId, ...p })).result;
  const s = (await novu.subscribers.retrieve(subscriberId)).result;
  assertApiSubscriber(s, subscriberId);
  assert.equal(s.id, created.id);
  assert.equal(s.email, p.email);
  assert.deepEqual(s.data, p.data);
  assert.equal(s.createdAt, created.createdAt);
});

test("api | subscribers.retrieve | unknown subscriber: ErrorDto with statusCode 404", async () => {
  const subscriberId = uid("api-missing");
  const err = await rejectsWith(novu.subscribers.retrieve(subscriberId), apiErrors.ErrorDto, 404);
  assert.match(err.message, new RegExp(subscriberId));
  assert.equal(err.path, `/v2/subscribers/${subscriberId}`);
  assert.ok(err.timestamp);
});

test("api | subscribers.retrieve | ids with @ + / and spaces round-trip (SDK percent-encodes them)", async () => {
  for (const subscriberId of [
    `${uid("mail")}+tag@example.com`,
    `${uid("slash")}/part`,
    `${uid("space")} with space`,
  ]) {
    const created = (await novu.subscribers.create({ subscriberId })).result;
    assert.equal(created.subscriberId, subscriberId);
    const s = (await novu.subscribers.retrieve(subscriberId)).result;
    assert.equal(s.subscriberId, subscriberId);
    assert.equal(s.id, created.id);
  }
});

test("api | subscribers.patch | sets given fields, null clears, others kept", async () => {
  const subscriberId = uid("api-patch");
  const p = profile();
  await novu.subscribers.create({ subscriberId, ...p });
  const s = (
    await novu.subscribers.patch({ firstName: "Grace", phone: null, data: { plan: "free" } }, subscriberId)
  ).result;
  assertApiSubscriber(s, subscriberId);
  assert.equal(s.firstName, "Grace");
  assert.ok(s.phone === null || s.phone === undefined, `phone cleared, got ${s.phone}`);
  assert.equal(s.lastName, p.lastName);
  assert.equal(s.email, p.email);
  assert.deepEqual(s.data, { plan: "free" });
  const again = (await novu.subscribers.retrieve(subscriberId)).result;
  assert.equal(again.firstName, "Grace");
  assert.ok(again.phone === null || again.phone === undefined);
});

test("api | subscribers.patch | unknown subscriber: ErrorDto 404", async () => {
  await rejectsWith(novu.subscribers.patch({ firstName: "x" }, uid("api-patch-missing")), apiErrors.ErrorDto, 404);
});

test("api | subscribers.delete | acknowledged + status deleted, then retrieve is 404", async () => {
  const subscriberId = uid("api-delete");
  await novu.subscribers.create({ subscriberId });
  const res = await novu.subscribers.delete(subscriberId);
  assert.deepEqual(res.result, { acknowledged: true, status: "deleted" });
  await rejectsWith(novu.subscribers.retrieve(subscriberId), apiErrors.ErrorDto, 404);
});

test("api | subscribers.delete | unknown subscriber: ErrorDto 404", async () => {
  await rejectsWith(novu.subscribers.delete(uid("api-delete-missing")), apiErrors.ErrorDto, 404);
});

test("api | subscribers.createBulk | 201 with created/updated/failed; profiles stored", async () => {
  const existing = uid("api-bulk-existing");
  await novu.subscribers.create({ subscriberId: existing, firstName: "Before" });
  const fresh = [uid("api-bulk-a"), uid("api-bulk-b"), uid("api-bulk-c")];
  const res = await novu.subscribers.createBulk({
    subscribers: [
      { subscriberId: fresh[0], email: "a@example.com", data: { n: 1 } },
      { subscriberId: existing, firstName: "After" },
      { subscriberId: fresh[1], firstName: "B" },
      { subscriberId: fresh[2] },
    ],
  });
  const r = res.result;
  assert.deepEqual(r.created.map((c) => c.subscriberId), fresh);
  assert.deepEqual(r.updated.map((c) => c.subscriberId), [existing]);
  assert.deepEqual(r.failed, []);
  assert.equal((await novu.subscribers.retrieve(existing)).result.firstName, "After");
  const a = (await novu.subscribers.retrieve(fresh[0])).result;
  assert.equal(a.email, "a@example.com");
  assert.deepEqual(a.data, { n: 1 });
  assert.match(a.id, OBJECT_ID);
});

test("api | subscribers.createBulk | invalid item: ErrorDto 400 (nothing written)", async () => {
  const ok = uid("api-bulk-ok");
  const err = await rejectsWith(
    novu.subscribers.createBulk({ subscribers: [{ subscriberId: ok }, { subscriberId: uid("x"), email: "not-an-email" }] }),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(JSON.stringify(err.data$.message), /email/);
  await rejectsWith(novu.subscribers.retrieve(ok), apiErrors.ErrorDto, 404);
});

test("api | subscribers.create | invalid email: ErrorDto 400 with the validation message", async () => {
  const err = await rejectsWith(
    novu.subscribers.create({ subscriberId: uid("api-bad-email"), email: "not-an-email" }),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(JSON.stringify(err.data$.message), /email must be an email/);
});

test("api | subscribers.retrieve | unknown API key: ErrorDto 401", async () => {
  const err = await rejectsWith(
    apiClient("not-a-key-" + uid("k")).subscribers.retrieve(uid("api-401")),
    apiErrors.ErrorDto,
    401,
  );
  assert.ok(err.timestamp && err.path);
});
