// @novu/api 3.19.1: /v2/workflows through the SDK calls (create, get, list, update, patch, delete,
// sync), with chat and push steps. The SDK parses every answer with its zod models, so a passing
// call also checks the response shape (required fields, closed enums, no stray nulls).

import test from "node:test";
import assert from "node:assert/strict";
import {
  apiClient,
  apiErrors,
  raw,
  rejectsWith,
  uid,
  ISOLATED_API_KEY,
  ISO_DATE,
  OBJECT_ID,
} from "./lib.mjs";

const novu = apiClient();

function chatAndPush(workflowId, extra = {}) {
  return {
    name: "Order shipped",
    workflowId,
    steps: [
      { name: "Chat step", type: "chat", controlValues: { body: "Order {{payload.orderId}} shipped" } },
      { name: "Push step", type: "push", controlValues: { subject: "Shipped", body: "{{payload.orderId}}" } },
    ],
    ...extra,
  };
}

test("api | workflows.create | 201 with chat and push steps; INACTIVE by the SDK's default active: false", async () => {
  const workflowId = uid("api-wf");
  const w = (await novu.workflows.create(chatAndPush(workflowId, { tags: ["orders"], severity: "high" }))).result;
  assert.match(w.id, OBJECT_ID);
  assert.equal(w.workflowId, workflowId);
  assert.equal(w.name, "Order shipped");
  assert.equal(w.status, "INACTIVE");
  assert.equal(w.active, false);
  assert.equal(w.origin, "novu-cloud");
  assert.equal(w.severity, "high");
  assert.deepEqual(w.tags, ["orders"]);
  assert.match(w.slug, /^wf_/);
  assert.match(w.createdAt, ISO_DATE);
  const [chat, push] = w.steps;
  assert.equal(chat.type, "chat");
  assert.equal(chat.stepId, "chat-step");
  assert.equal(chat.workflowId, workflowId);
  assert.equal(chat.workflowDatabaseId, w.id);
  assert.equal(chat.controls.values.body, "Order {{payload.orderId}} shipped");
  assert.equal(push.type, "push");
  assert.equal(push.controls.values.subject, "Shipped");
  assert.equal(push.controls.values.body, "{{payload.orderId}}");
  assert.ok(push.variables && typeof push.variables === "object");
});

test("api | workflows.create | active: true is ACTIVE; a taken workflowId is ErrorDto 409", async () => {
  const workflowId = uid("api-wf-dup");
  const w = (await novu.workflows.create(chatAndPush(workflowId, { active: true }))).result;
  assert.equal(w.status, "ACTIVE");
  const err = await rejectsWith(novu.workflows.create(chatAndPush(workflowId)), apiErrors.ErrorDto, 409);
  assert.match(err.message, /already exists/);
});

test("api | workflows.create | an in_app step is ErrorDto 400 naming the supported types", async () => {
  const err = await rejectsWith(
    novu.workflows.create({ name: "Inbox", workflowId: uid("api-wf-inapp"), steps: [{ name: "Inbox", type: "in_app", controlValues: { body: "x" } }] }),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(err.message, /chat, push/);
});

test("api | workflows.get | by workflowId, _id and slug; unknown: ErrorDto 404", async () => {
  const workflowId = uid("api-wf-get");
  const w = (await novu.workflows.create(chatAndPush(workflowId))).result;
  for (const key of [workflowId, w.id, w.slug]) {
    const got = (await novu.workflows.get(key)).result;
    assert.equal(got.id, w.id, key);
    assert.equal(got.steps.length, 2);
  }
  await rejectsWith(novu.workflows.get(uid("api-wf-missing")), apiErrors.ErrorDto, 404);
});

test("api | workflows.list | {workflows, totalCount} filtered by query, tags and status", async () => {
  const tag = uid("api-tag");
  const a = uid("api-wf-list-a");
  const b = uid("api-wf-list-b");
  await novu.workflows.create(chatAndPush(a, { tags: [tag] }));
  await novu.workflows.create(chatAndPush(b, { tags: [tag], active: true }));
  const all = (await novu.workflows.list({ tags: [tag], limit: 10 })).result;
  assert.equal(all.totalCount, 2);
  assert.deepEqual(all.workflows.map((w) => w.workflowId).sort(), [a, b].sort());
  const item = all.workflows[0];
  assert.deepEqual(item.stepTypeOverviews, ["chat", "push"]);
  assert.match(item.slug, /^wf_/);
  const active = (await novu.workflows.list({ tags: [tag], status: ["ACTIVE"] })).result;
  assert.deepEqual(active.workflows.map((w) => w.workflowId), [b]);
  const byQuery = (await novu.workflows.list({ query: a })).result;
  assert.deepEqual(byQuery.workflows.map((w) => w.workflowId), [a]);
  const page = (await novu.workflows.list({ tags: [tag], limit: 1, offset: 1, orderBy: "createdAt", orderDirection: "ASC" })).result;
  assert.deepEqual(page.workflows.map((w) => w.workflowId), [b]);
});

test("api | workflows.update | replaces the definition; a step sent with its id keeps it", async () => {
  const workflowId = uid("api-wf-upd");
  const w = (await novu.workflows.create(chatAndPush(workflowId))).result;
  const chat = w.steps[0];
  const u = (
    await novu.workflows.update(
      {
        name: "Renamed",
        active: true,
        preferences: {},
        steps: [{ id: chat.id, name: "Chat step", type: "chat", controlValues: { body: "Changed {{payload.x}}" } }],
      },
      workflowId,
    )
  ).result;
  assert.equal(u.id, w.id);
  assert.equal(u.name, "Renamed");
  assert.equal(u.status, "ACTIVE");
  assert.equal(u.steps.length, 1);
  assert.equal(u.steps[0].id, chat.id);
  assert.equal(u.steps[0].controls.values.body, "Changed {{payload.x}}");
  await rejectsWith(
    novu.workflows.update({ name: "x", preferences: {}, steps: [] }, uid("api-wf-none")),
    apiErrors.ErrorDto,
    404,
  );
});

test("api | workflows.patch | active: true activates; other fields kept", async () => {
  const workflowId = uid("api-wf-patch");
  const w = (await novu.workflows.create(chatAndPush(workflowId, { description: "d" }))).result;
  const p = (await novu.workflows.patch({ active: true }, workflowId)).result;
  assert.equal(p.status, "ACTIVE");
  assert.equal(p.description, "d");
  assert.equal(p.steps.length, w.steps.length);
  const q = (await novu.workflows.patch({ name: "Patched", tags: ["x"] }, w.id)).result;
  assert.equal(q.name, "Patched");
  assert.deepEqual(q.tags, ["x"]);
  assert.equal(q.status, "ACTIVE");
});

test("api | workflows.delete | 204 (no body); then get is ErrorDto 404", async () => {
  const workflowId = uid("api-wf-del");
  await novu.workflows.create(chatAndPush(workflowId));
  const res = await novu.workflows.delete(workflowId);
  assert.ok(res === undefined || res.result === undefined);
  await rejectsWith(novu.workflows.get(workflowId), apiErrors.ErrorDto, 404);
  await rejectsWith(novu.workflows.delete(workflowId), apiErrors.ErrorDto, 404);
});

test("api | workflows.sync | copies into another environment; the same environment is ErrorDto 400", async (t) => {
  if (!ISOLATED_API_KEY) {
    t.skip("no key of a second environment (HERALD_ISOLATED_API_KEY)");
    return;
  }
  const other = apiClient(ISOLATED_API_KEY);
  const groups = await fetch(`${process.env.HERALD_URL}/v1/notification-groups`, {
    headers: { Authorization: `ApiKey ${ISOLATED_API_KEY}` },
  }).then((r) => r.json());
  const target = groups.data[0]._environmentId;
  const own = (await raw("GET", "/v1/notification-groups")).json.data[0]._environmentId;
  const workflowId = uid("api-wf-sync");
  const w = (await novu.workflows.create(chatAndPush(workflowId, { active: true }))).result;
  const copy = (await novu.workflows.sync({ targetEnvironmentId: target }, workflowId)).result;
  assert.notEqual(copy.id, w.id);
  assert.equal(copy.workflowId, workflowId);
  assert.equal(copy.status, "ACTIVE");
  assert.equal((await other.workflows.get(workflowId)).result.id, copy.id);
  await rejectsWith(novu.workflows.sync({ targetEnvironmentId: own }, workflowId), apiErrors.ErrorDto, 400);
  await other.workflows.delete(workflowId);
});
