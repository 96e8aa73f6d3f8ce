// @novu/node 2.6.6: notification groups and v1 workflows (`notificationTemplates.*`, which call
// /v1/notification-templates) through the SDK calls. The trigger identifier is the slug of the
// workflow name; workflows are created inactive unless `active: true`.

import test from "node:test";
import assert from "node:assert/strict";
import { nodeClient, axiosRejects, assertErrorBody, uid, OBJECT_ID } from "./lib.mjs";

const novu = nodeClient();
const slash = nodeClient({ trailingSlash: true });

async function generalGroupId() {
  const res = await novu.notificationGroups.get();
  const general = res.data.data.find((g) => g.name === "General");
  assert.ok(general, `a General group: ${JSON.stringify(res.data)}`);
  return general._id;
}

function template(groupId, name, extra = {}) {
  return {
    name,
    notificationGroupId: groupId,
    steps: [
      { active: true, template: { type: "chat", content: "Order {{orderId}} shipped" } },
      { active: true, template: { type: "push", title: "Shipped", content: "{{orderId}}" } },
    ],
    ...extra,
  };
}

/** The trigger identifier node users need: `triggers[0].identifier`. */
const identifierOf = (w) => w.triggers[0].identifier;

test("node | notificationGroups.get | every environment has General", async () => {
  const res = await slash.notificationGroups.get();
  assert.equal(res.status, 200);
  const general = res.data.data.find((g) => g.name === "General");
  assert.match(general._id, OBJECT_ID);
  assert.match(general._environmentId, OBJECT_ID);
  assert.match(general._organizationId, OBJECT_ID);
});

test("node | notificationGroups.create | 201; the same name again answers that group", async () => {
  const name = uid("node-group");
  const res = await novu.notificationGroups.create(name);
  assert.equal(res.status, 201);
  assert.equal(res.data.data.name, name);
  const again = await novu.notificationGroups.create(name);
  assert.equal(again.data.data._id, res.data.data._id);
  const one = await novu.notificationGroups.getOne(res.data.data._id);
  assert.equal(one.data.data.name, name);
});

test("node | notificationTemplates.create | 201; identifier is the slug of the name; inactive by default", async () => {
  const group = await generalGroupId();
  const suffix = uid("x").replace(/[^a-z0-9]/g, "");
  const res = await novu.notificationTemplates.create(template(group, `Order Shipped ${suffix}!`));
  assert.equal(res.status, 201);
  const w = res.data.data;
  assert.match(w._id, OBJECT_ID);
  assert.equal(identifierOf(w), `order-shipped-${suffix}`);
  assert.equal(w.active, false);
  assert.equal(w.draft, true);
  assert.equal(w._notificationGroupId, group);
  assert.deepEqual(w.steps.map((s) => s.template.type), ["chat", "push"]);
  assert.equal(w.steps[1].template.title, "Shipped");
  assert.deepEqual(w.triggers[0].variables, [{ name: "orderId", type: "String" }]);
  // The same name again gets `-<suffix>`.
  const again = (await novu.notificationTemplates.create(template(group, `Order Shipped ${suffix}!`))).data.data;
  assert.match(identifierOf(again), new RegExp(`^order-shipped-${suffix}-[0-9A-Za-z_-]{9}$`));
});

test("node | notificationTemplates.create | an email step is 400 naming chat and push", async () => {
  const group = await generalGroupId();
  const body = await axiosRejects(
    novu.notificationTemplates.create({ name: uid("node-email"), notificationGroupId: group, steps: [{ template: { type: "email", content: "x" } }] }),
    400,
  );
  assertErrorBody(body, 400);
  assert.match(body.message[0], /chat, push/);
});

test("node | notificationTemplates.getAll | unwrapped {page, data, totalCount, pageSize}", async () => {
  const group = await generalGroupId();
  const w = (await novu.notificationTemplates.create(template(group, uid("Node list")))).data.data;
  const res = await novu.notificationTemplates.getAll(0, 100);
  assert.equal(res.status, 200);
  assert.equal(res.data.page, 0);
  assert.equal(res.data.pageSize, 100);
  assert.equal(typeof res.data.totalCount, "number");
  assert.ok(res.data.data.some((x) => x._id === w._id));
});

test("node | notificationTemplates.getOne | by _id or identifier; unknown 404", async () => {
  const group = await generalGroupId();
  const w = (await novu.notificationTemplates.create(template(group, uid("Node get")))).data.data;
  assert.equal((await novu.notificationTemplates.getOne(w._id)).data.data._id, w._id);
  assert.equal((await novu.notificationTemplates.getOne(identifierOf(w))).data.data._id, w._id);
  const body = await axiosRejects(novu.notificationTemplates.getOne(uid("node-missing")), 404);
  assertErrorBody(body, 404);
});

test("node | notificationTemplates.update | changes the given fields; steps replaced", async () => {
  const group = await generalGroupId();
  const w = (await novu.notificationTemplates.create(template(group, uid("Node update")))).data.data;
  const res = await novu.notificationTemplates.update(w._id, {
    name: "Renamed",
    tags: ["t"],
    steps: [{ _templateId: w.steps[0]._templateId, template: { type: "chat", content: "Changed {{x}}" } }],
  });
  assert.equal(res.status, 200);
  const u = res.data.data;
  assert.equal(u.name, "Renamed");
  assert.deepEqual(u.tags, ["t"]);
  assert.equal(identifierOf(u), identifierOf(w), "renaming keeps the identifier");
  assert.equal(u.steps.length, 1);
  assert.equal(u.steps[0]._id, w.steps[0]._id);
  assert.equal(u.steps[0].template.content, "Changed {{x}}");
});

test("node | notificationTemplates.updateStatus | activates; the same status again is 400", async () => {
  const group = await generalGroupId();
  const w = (await novu.notificationTemplates.create(template(group, uid("Node status")))).data.data;
  const res = await novu.notificationTemplates.updateStatus(w._id, true);
  assert.equal(res.status, 200);
  assert.equal(res.data.data.active, true);
  const body = await axiosRejects(novu.notificationTemplates.updateStatus(w._id, true), 400);
  assert.equal(body.message, "You must provide a different status from the current status");
});

test("node | notificationTemplates.delete | {data: true}; again 404", async () => {
  const group = await generalGroupId();
  const w = (await novu.notificationTemplates.create(template(group, uid("Node delete")))).data.data;
  const res = await novu.notificationTemplates.delete(w._id);
  assert.equal(res.status, 200);
  assert.equal(res.data.data, true);
  await axiosRejects(novu.notificationTemplates.delete(w._id), 404);
});
