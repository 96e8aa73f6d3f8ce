// @novu/api 3.19.1: integrations (create, list, listActive, update, delete, setAsPrimary) through
// the SDK calls.

import test from "node:test";
import assert from "node:assert/strict";
import {
  apiClient,
  apiErrors,
  rejectsWith,
  uid,
  OBJECT_ID,
  UNKNOWN_OBJECT_ID,
  ISOLATED_API_KEY,
  nodeClient,
} from "./lib.mjs";

const novu = apiClient();

function assertIntegration(i) {
  assert.match(i.id, OBJECT_ID);
  assert.match(i.environmentId, OBJECT_ID);
  assert.match(i.organizationId, OBJECT_ID);
  assert.equal(typeof i.name, "string");
  assert.equal(typeof i.identifier, "string");
  assert.equal(typeof i.active, "boolean");
  assert.equal(i.deleted, false);
  assert.equal(typeof i.primary, "boolean");
}

test("api | integrations.create | 201 with name, identifier, credentials, active as given", async () => {
  const identifier = uid("api-int");
  const res = await novu.integrations.create({
    providerId: "fcm",
    channel: "push",
    name: "My FCM",
    identifier,
    credentials: { serviceAccount: '{"project_id":"p"}', projectName: "p" },
    active: true,
    check: false,
  });
  const i = res.result;
  assertIntegration(i);
  assert.equal(i.providerId, "fcm");
  assert.equal(i.channel, "push");
  assert.equal(i.name, "My FCM");
  assert.equal(i.identifier, identifier);
  assert.equal(i.active, true);
  assert.deepEqual(i.credentials, { serviceAccount: '{"project_id":"p"}', projectName: "p" });
});

test("api | integrations.create | without name/identifier: server generates them; inactive by default", async () => {
  const i = (await novu.integrations.create({ providerId: "discord", channel: "chat" })).result;
  assertIntegration(i);
  assert.equal(i.providerId, "discord");
  assert.equal(i.channel, "chat");
  assert.ok(i.name.length > 0);
  assert.match(i.identifier, /^[a-z0-9-]+-[0-9A-Za-z_-]{9}$/);
  assert.equal(i.active, false);
});

test("api | integrations.create | environmentId (_environmentId) of the key's environment is accepted", async () => {
  const first = (await novu.integrations.create({ providerId: "sendblue", channel: "chat", identifier: uid("api-env1") })).result;
  const i = (
    await novu.integrations.create({
      providerId: "sendblue",
      channel: "chat",
      identifier: uid("api-env2"),
      environmentId: first.environmentId,
    })
  ).result;
  assert.equal(i.environmentId, first.environmentId);
});

test("api | integrations.create | identifier already used: ErrorDto 409 (as Novu's ConflictException)", async () => {
  const identifier = uid("api-dup");
  await novu.integrations.create({ providerId: "zulip", channel: "chat", identifier });
  const err = await rejectsWith(
    novu.integrations.create({ providerId: "zulip", channel: "chat", identifier }),
    apiErrors.ErrorDto,
    409,
  );
  assert.match(err.message, /Integration with identifier already exists/);
});

test("api | integrations.create | channel that does not match the provider: ErrorDto 400", async () => {
  const err = await rejectsWith(
    novu.integrations.create({ providerId: "fcm", channel: "chat", identifier: uid("bad") }),
    apiErrors.ErrorDto,
    400,
  );
  assert.match(JSON.stringify(err.data$.message), /channel/);
});

test("api | integrations.list | contains active and inactive integrations of the environment", async () => {
  const active = (await novu.integrations.create({ providerId: "expo", channel: "push", identifier: uid("api-l-a"), active: true })).result;
  const inactive = (await novu.integrations.create({ providerId: "expo", channel: "push", identifier: uid("api-l-i"), active: false })).result;
  const list = (await novu.integrations.list()).result;
  assert.ok(Array.isArray(list));
  const byId = new Map(list.map((i) => [i.id, i]));
  assert.equal(byId.get(active.id)?.identifier, active.identifier);
  assert.equal(byId.get(inactive.id)?.active, false);
  for (const i of list) assertIntegration(i);
});

test("api | integrations.listActive | only active integrations", async () => {
  const active = (await novu.integrations.create({ providerId: "apns", channel: "push", identifier: uid("api-la-a"), active: true })).result;
  const inactive = (await novu.integrations.create({ providerId: "apns", channel: "push", identifier: uid("api-la-i"), active: false })).result;
  const list = (await novu.integrations.listActive()).result;
  const ids = list.map((i) => i.id);
  assert.ok(ids.includes(active.id));
  assert.ok(!ids.includes(inactive.id));
  assert.ok(list.every((i) => i.active === true));
});

test("api | integrations.update | changes name, active, credentials; list reflects it", async () => {
  const created = (await novu.integrations.create({ providerId: "telegram", channel: "chat", identifier: uid("api-upd"), active: false })).result;
  const newIdentifier = uid("api-upd-new");
  const updated = (
    await novu.integrations.update(
      { name: "Renamed", identifier: newIdentifier, active: true, credentials: { apiToken: "t-1" }, check: false },
      created.id,
    )
  ).result;
  assertIntegration(updated);
  assert.equal(updated.id, created.id);
  assert.equal(updated.name, "Renamed");
  assert.equal(updated.identifier, newIdentifier);
  assert.equal(updated.active, true);
  assert.deepEqual(updated.credentials, { apiToken: "t-1" });
  const listed = (await novu.integrations.listActive()).result.find((i) => i.id === created.id);
  assert.equal(listed?.name, "Renamed");
});

test("api | integrations.update | unknown id: SDKError 404 (the SDK maps 404 to SDKError here)", async () => {
  await rejectsWith(novu.integrations.update({ name: "x" }, UNKNOWN_OBJECT_ID), apiErrors.SDKError, 404);
});

test("api | integrations.delete | 200 with the remaining integrations; deleted one gone from lists", async () => {
  const keep = (await novu.integrations.create({ providerId: "msteams", channel: "chat", identifier: uid("api-del-keep") })).result;
  const gone = (await novu.integrations.create({ providerId: "msteams", channel: "chat", identifier: uid("api-del-gone"), active: true })).result;
  const remaining = (await novu.integrations.delete(gone.id)).result;
  assert.ok(Array.isArray(remaining));
  const ids = remaining.map((i) => i.id);
  assert.ok(ids.includes(keep.id));
  assert.ok(!ids.includes(gone.id));
  assert.ok(!(await novu.integrations.list()).result.some((i) => i.id === gone.id));
  assert.ok(!(await novu.integrations.listActive()).result.some((i) => i.id === gone.id));
});

test("api | integrations.delete | unknown id: ErrorDto 404", async () => {
  await rejectsWith(novu.integrations.delete(UNKNOWN_OBJECT_ID), apiErrors.ErrorDto, 404);
});

// Only this file makes push integrations primary among the Node suites (node-classic uses chat),
// so the "previous primary loses it" check cannot race another file.
test("api | integrations.setAsPrimary | 200, primary and active; the previous primary of the channel loses it", async () => {
  const a = (await novu.integrations.create({ providerId: "pushpad", channel: "push", identifier: uid("api-prim-a"), active: true })).result;
  const b = (await novu.integrations.create({ providerId: "pushpad", channel: "push", identifier: uid("api-prim-b"), active: true })).result;
  const pa = (await novu.integrations.setAsPrimary(a.id)).result;
  assertIntegration(pa);
  assert.equal(pa.id, a.id);
  assert.equal(pa.primary, true);
  assert.equal(pa.active, true);
  const pb = (await novu.integrations.setAsPrimary(b.id)).result;
  assert.equal(pb.primary, true);
  const list = (await novu.integrations.list()).result;
  assert.equal(list.find((i) => i.id === a.id)?.primary, false);
  assert.equal(list.find((i) => i.id === b.id)?.primary, true);
});

test("api | integrations.setAsPrimary | unknown id: SDKError 404", async () => {
  await rejectsWith(novu.integrations.setAsPrimary(UNKNOWN_OBJECT_ID), apiErrors.SDKError, 404);
});

// Integrations written through a client that does not validate (here @novu/node, which sends what
// it is given) must stay readable by @novu/api, whose zod model types every known credentials key
// and the shape of `conditions`: Herald must reject such a body (as Novu's DTO validation does) or
// store something @novu/api can read. Runs in another environment (ISOLATED_API_KEY) because such
// an integration breaks every list call of its environment.
for (const [what, fields] of [
  ["a boolean credential sent as a string (credentials.secure: 'true')", { credentials: { secure: "true" } }],
  ["a string credential sent as a boolean (credentials.apiKey: true)", { credentials: { apiKey: true } }],
  ["a credential sent as null (credentials.apiKey: null)", { credentials: { apiKey: null } }],
  ["a condition without isNegated/type/value/children (conditions: [{}])", { conditions: [{}] }],
]) {
  test(
    `api | integrations.list | stays readable after @novu/node stored ${what}`,
    { skip: ISOLATED_API_KEY ? false : "HERALD_ISOLATED_API_KEY not set" },
    async () => {
      const writer = nodeClient({ key: ISOLATED_API_KEY });
      let created;
      try {
        created = (await writer.integrations.create("slack", { channel: "chat", identifier: uid("mistyped"), ...fields })).data.data;
      } catch (e) {
        // Rejecting the body is fine (Novu validates these fields).
        assert.equal(e.response?.status, 400, `create: ${e.message}`);
        return;
      }
      try {
        const list = await apiClient(ISOLATED_API_KEY).integrations.list();
        assert.ok(list.result.some((i) => i.id === created._id));
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.fail(
          `POST /v1/integrations accepted ${JSON.stringify(fields)} (201) and echoed ` +
            `${JSON.stringify({ credentials: created.credentials, conditions: created.conditions })}; ` +
            `@novu/api integrations.list() then fails: ` +
            `${e.constructor.name} ${e.statusCode}: ${e.message}${e.pretty ? "\n" + e.pretty() : ""}`,
        );
      } finally {
        await writer.integrations.delete(created._id);
      }
    },
  );
}
