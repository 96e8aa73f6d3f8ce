"""novu-py 3.19.0: trigger, trigger_bulk, trigger_broadcast, cancel and the activity reads
(messages.retrieve/delete/delete_by_transaction_id, notifications.list/retrieve) through the SDK
calls, with the local receiver (sdk-tests/receiver.mjs) standing in for Slack and the push
webhook. Activity answers are checked, as the SDK received them, for the secrets they must not show.
"""

import re

import httpx
import pytest
from novu_py import Novu, models
from novu_py.utils import RetryConfig

from rx import (
    assert_no_secrets,
    hexid,
    push_for,
    received,
    rx_url,
    script,
    signature,
    texts,
    wait_for_requests,
    wait_for_requests_under,
    wait_until,
)
from sdkutil import API_KEY, BASE_URL, ISOLATED_API_KEY, ISO_DATE, OBJECT_ID, expect_error, op, uid

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def client(key=API_KEY):
    """novu-py (retries off) and the list of (url, body) of every answer it got."""
    answers = []

    def keep(response):
        response.read()
        answers.append((str(response.request.url), response.text))

    http = httpx.Client(follow_redirects=True, event_hooks={"response": [keep]})
    novu = Novu(secret_key=key, server_url=BASE_URL, retry_config=RetryConfig("none", None, False), timeout_ms=10_000, client=http)
    return novu, answers


novu, answers = client()


def setup_env(api, prefix):
    """Slack and push-webhook integrations and an active chat+push workflow, through `api`."""
    e = {"secret": f"whsec-{hexid()}", "push_path": f"/push/{prefix}-{hexid()}"}
    e["slack"] = api.integrations.create(
        create_integration_request_dto={"provider_id": "slack", "channel": "chat", "identifier": uid(f"{prefix}-slack"), "name": "Slack", "active": True}
    ).result.identifier
    e["push"] = api.integrations.create(
        create_integration_request_dto={
            "provider_id": "push-webhook",
            "channel": "push",
            "identifier": uid(f"{prefix}-push"),
            "name": "Push webhook",
            "active": True,
            "credentials": {"webhook_url": rx_url(e["push_path"]), "secret_key": e["secret"]},
        }
    ).result.identifier
    e["workflow_id"] = uid(f"{prefix}-wf")
    w = api.workflows.create(
        create_workflow_dto={
            "name": "Order shipped",
            "workflow_id": e["workflow_id"],
            "active": True,
            "steps": [
                {"name": "Chat step", "type": "chat", "control_values": {"body": "Hi {{subscriber.firstName}}, order {{payload.orderId}} shipped"}},
                {"name": "Push step", "type": "push", "control_values": {"subject": "Order {{payload.orderId}}", "body": "Shipped to {{subscriber.firstName}}"}},
            ],
        }
    ).result
    assert w.status == "ACTIVE"
    return e


def subscriber(api, e, prefix, first_name="Ada"):
    """A subscriber with a Slack webhook and a push token on the receiver."""
    subscriber_id = uid(prefix)
    slack_path = f"/slack/{subscriber_id}/{hexid()}"
    token = f"tok-{hexid()}"
    api.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": first_name})
    api.subscribers.credentials.update(
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={"provider_id": "slack", "integration_identifier": e["slack"], "credentials": {"webhook_url": rx_url(slack_path)}},
    )
    api.subscribers.credentials.update(
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={"provider_id": "push-webhook", "integration_identifier": e["push"], "credentials": {"device_tokens": [token]}},
    )
    secrets = [rx_url(slack_path), slack_path, token, rx_url(e["push_path"]), e["push_path"], e["secret"]]
    return {"id": subscriber_id, "slack_path": slack_path, "token": token, "secrets": secrets}


def chat_workflow(api, prefix, body):
    workflow_id = uid(prefix)
    api.workflows.create(
        create_workflow_dto={"name": prefix, "workflow_id": workflow_id, "active": True, "steps": [{"name": "Chat step", "type": "chat", "control_values": {"body": body}}]}
    )
    return workflow_id


def trigger(api, **body):
    return api.trigger(trigger_event_request_dto=body).result


def settled(api, transaction_id, n):
    """Waits until the transaction's `n` messages are all sent; returns them."""
    return wait_until(
        f"{n} sent message(s) of {transaction_id}",
        lambda: api.messages.retrieve(request={"transaction_id": [transaction_id], "limit": 100}).result.data,
        lambda d: len(d) >= n and all(m.status == "sent" for m in d),
    )


@pytest.fixture(scope="module")
def env():
    return setup_env(novu, "py-ev")


@op("py", "trigger")
def test_trigger_one(env):
    """one subscriber: 201 processed; chat and push reach the receiver rendered and signed"""
    s = subscriber(novu, env, "py-ev-one")
    r = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "A&17"})
    assert (r.acknowledged, r.status) == (True, "processed")
    assert UUID.match(r.transaction_id)
    [chat] = wait_for_requests(s["slack_path"], 1)
    assert chat["json"] == {"text": "Hi Ada, order A&amp;17 shipped"}
    [push] = wait_for_requests(env["push_path"], 1, push_for(s["token"]))
    assert (push["json"]["title"], push["json"]["content"]) == ("Order A&amp;17", "Shipped to Ada")
    assert push["json"]["payload"]["orderId"] == "A&17"
    assert push["headers"]["x-novu-signature"] == signature(env["secret"], push["body"])


@op("py", "trigger")
def test_trigger_overrides(env):
    """overrides.providers.slack reaches Slack's body; steps.<stepId> wins over it"""
    s = subscriber(novu, env, "py-ev-ovr")
    blocks = [{"type": "divider"}]
    r = trigger(
        novu,
        workflow_id=env["workflow_id"],
        to=s["id"],
        payload={"orderId": "7"},
        overrides={
            "providers": {"slack": {"blocks": blocks, "username": "Herald"}, "push-webhook": {"sound": "chime"}},
            "steps": {"chat-step": {"providers": {"slack": {"username": "Step bot"}}}},
        },
    )
    assert r.status == "processed"
    [chat] = wait_for_requests(s["slack_path"], 1)
    assert chat["json"] == {"text": "Hi Ada, order 7 shipped", "blocks": blocks, "username": "Step bot"}
    [push] = wait_for_requests(env["push_path"], 1, push_for(s["token"]))
    assert push["json"]["overrides"] == {"sound": "chime"}


@op("py", "trigger")
def test_trigger_topic(env):
    """to a topic with exclude: its other subscribers once, the excluded one nothing"""
    a, b, c = (subscriber(novu, env, f"py-ev-t{x}", n) for x, n in (("a", "Ann"), ("b", "Bob"), ("c", "Cy")))
    key = uid("py-ev-topic")
    novu.topics.create(create_update_topic_request_dto={"key": key, "name": "Orders"})
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": [a["id"], b["id"], c["id"]]})
    r = trigger(novu, workflow_id=env["workflow_id"], to={"type": "Topic", "topic_key": key, "exclude": [c["id"]]}, payload={"orderId": "T1"})
    assert r.status == "processed"
    assert texts(wait_for_requests(a["slack_path"], 1)) == ["Hi Ann, order T1 shipped"]
    assert texts(wait_for_requests(b["slack_path"], 1)) == ["Hi Bob, order T1 shipped"]
    assert len(settled(novu, r.transaction_id, 4)) == 4
    # The fan-out writes each member's notification in one page: Ann's and Bob's being sent, Cy's would be there.
    notified = novu.notifications.list(request={"transaction_id": r.transaction_id}).result.data
    assert sorted(n.subscriber.subscriber_id for n in notified) == sorted([a["id"], b["id"]])
    assert received(c["slack_path"]) == []


@op("py", "trigger")
def test_trigger_mixed(env):
    """an array of an id, an inline subscriber with its channel and a topic; actor; transaction_id kept"""
    workflow_id = chat_workflow(novu, "py-ev-actor", "{{actor.firstName}} to {{subscriber.firstName}}: {{payload.n}}")
    a, b, actor = subscriber(novu, env, "py-ev-ma", "Ann"), subscriber(novu, env, "py-ev-mb", "Bob"), subscriber(novu, env, "py-ev-actor", "Zed")
    key = uid("py-ev-mix")
    novu.topics.create(create_update_topic_request_dto={"key": key})
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": [a["id"], b["id"], actor["id"]]})
    inline_id = uid("py-ev-inline")
    inline_path = f"/slack/{inline_id}/{hexid()}"
    transaction_id = uid("py-ev-tx")
    inline = {
        "subscriber_id": inline_id,
        "first_name": "Ina",
        "channels": [{"provider_id": "slack", "integration_identifier": env["slack"], "credentials": {"webhook_url": rx_url(inline_path)}}],
    }
    r = trigger(
        novu,
        workflow_id=workflow_id,
        to=[a["id"], inline, {"type": "Topic", "topic_key": key}],
        actor=actor["id"],
        transaction_id=transaction_id,
        payload={"n": 3},
    )
    assert (r.status, r.transaction_id) == ("processed", transaction_id)
    assert texts(wait_for_requests(a["slack_path"], 1)) == ["Zed to Ann: 3"]
    assert texts(wait_for_requests(b["slack_path"], 1)) == ["Zed to Bob: 3"]
    assert texts(wait_for_requests(inline_path, 1)) == ["Zed to Ina: 3"]
    assert len(settled(novu, transaction_id, 3)) == 3
    # Ann once, Bob, Ina; never the actor.
    notified = novu.notifications.list(request={"transaction_id": transaction_id}).result.data
    assert sorted(n.subscriber.subscriber_id for n in notified) == sorted([a["id"], b["id"], inline_id])
    assert received(actor["slack_path"]) == []
    assert len(received(a["slack_path"])) == 1
    assert novu.subscribers.retrieve(subscriber_id=inline_id).result.first_name == "Ina"


@op("py", "trigger")
def test_trigger_inactive_and_unknown(env):
    """inactive workflow: trigger_not_active, nothing sent; unknown: ValidationErrorDto 422"""
    s = subscriber(novu, env, "py-ev-inactive")
    off = uid("py-ev-off")
    novu.workflows.create(create_workflow_dto={"name": "Off", "workflow_id": off, "steps": [{"name": "Chat", "type": "chat", "control_values": {"body": "x"}}]})
    r = trigger(novu, workflow_id=off, to=s["id"])
    assert (r.acknowledged, r.status) == (True, "trigger_not_active")
    assert novu.messages.retrieve(request={"subscriber_id": s["id"]}).result.data == []
    err = expect_error(models.ValidationErrorDto, 422, novu.trigger, trigger_event_request_dto={"workflow_id": uid("py-ev-none"), "to": s["id"]})
    assert err.data.message == "workflow_not_found"


@op("py", "trigger_bulk")
def test_bulk(env):
    """each event's outcome in order; each recipient its own payload; 101 events is PayloadValidationExceptionDto 400"""
    subs = [subscriber(novu, env, f"py-ev-b{i}") for i in range(3)]
    events = [{"workflow_id": env["workflow_id"], "to": s["id"], "payload": {"orderId": f"B{i}"}} for i, s in enumerate(subs)]
    events.append({"workflow_id": uid("py-ev-none"), "to": subs[0]["id"]})
    out = novu.trigger_bulk(bulk_trigger_event_dto={"events": events}).result
    assert [x.status for x in out] == ["processed"] * 3 + ["error"]
    assert len({x.transaction_id for x in out[:3]}) == 3
    assert out[3].error == ["workflow_not_found"]
    for i, s in enumerate(subs):
        assert texts(wait_for_requests(s["slack_path"], 1)) == [f"Hi Ada, order B{i} shipped"]
    over = [events[0]] * 101
    expect_error(models.PayloadValidationExceptionDto, 400, novu.trigger_bulk, bulk_trigger_event_dto={"events": over})


@op("py", "trigger_broadcast")
@pytest.mark.skipif(not ISOLATED_API_KEY, reason="HERALD_ISOLATED_API_KEY not set")
def test_broadcast():
    """every subscriber of the environment gets it (a second environment, kept to this test's subscribers)"""
    iso, _ = client(ISOLATED_API_KEY)
    e = setup_env(iso, "py-bc")
    subs = [subscriber(iso, e, "py-bc-a", "Ann"), subscriber(iso, e, "py-bc-b", "Bob")]
    nonce = hexid()
    try:
        r = iso.trigger_broadcast(trigger_event_to_all_request_dto={"name": e["workflow_id"], "payload": {"orderId": nonce}}).result
        assert r.status == "processed"
        assert isinstance(r.transaction_id, str)

        def mine(x):
            return nonce in (x["json"] or {}).get("text", "")

        assert texts(wait_for_requests(subs[0]["slack_path"], 1, mine)) == [f"Hi Ann, order {nonce} shipped"]
        assert texts(wait_for_requests(subs[1]["slack_path"], 1, mine)) == [f"Hi Bob, order {nonce} shipped"]
        pushes = wait_for_requests_under(e["push_path"], 2, lambda x: (x["json"] or {}).get("title") == f"Order {nonce}")
        assert sorted(x["json"]["target"][0] for x in pushes) == sorted(s["token"] for s in subs)
    finally:
        for s in subs:
            iso.subscribers.delete(subscriber_id=s["id"])
        iso.workflows.delete(workflow_id=e["workflow_id"])


@op("py", "cancel")
def test_cancel(env):
    """a message waiting for its retry is canceled (True), then there is nothing left (False)"""
    # Deterministic: the first attempt gets 503 with Retry-After: 3600, so the job waits an hour.
    s = subscriber(novu, env, "py-ev-cancel")
    workflow_id = chat_workflow(novu, "py-ev-cancel", "Later {{payload.n}}")
    script(s["slack_path"], [{"status": 503, "body": "busy", "headers": {"retry-after": "3600"}}])
    tx = trigger(novu, workflow_id=workflow_id, to=s["id"], payload={"n": 1}).transaction_id
    wait_for_requests(s["slack_path"], 1)
    wait_until(
        "the message to wait for its retry",
        lambda: novu.messages.retrieve(request={"transaction_id": [tx]}).result.data,
        lambda d: len(d) == 1 and d[0].status == "warning",
    )
    assert novu.cancel(transaction_id=tx).result is True
    assert novu.cancel(transaction_id=tx).result is False
    [n] = novu.notifications.list(request={"transaction_id": tx}).result.data
    assert [j.status for j in n.jobs] == ["canceled"]
    assert len(received(s["slack_path"])) == 1


@op("py", "messages.retrieve")
def test_messages(env):
    """by subscriber, channel and transaction_id: sent, typed, no secret in the answer"""
    s = subscriber(novu, env, "py-ev-msgs")
    tx = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "M1"}).transaction_id
    settled(novu, tx, 2)
    start = len(answers)
    page = novu.messages.retrieve(request={"subscriber_id": s["id"], "limit": 10}).result
    assert (page.page, page.page_size, page.has_more, page.total_count) == (0, 10, False, 2)
    by_channel = {m.channel: m for m in page.data}
    chat, push = by_channel["chat"], by_channel["push"]
    assert (chat.status, chat.provider_id, chat.content) == ("sent", "slack", "Hi Ada, order M1 shipped")
    assert chat.template_identifier == env["workflow_id"]
    assert (push.provider_id, push.title, len(push.device_tokens)) == ("push-webhook", "Order M1", 1)
    for m in page.data:
        assert OBJECT_ID.match(m.id) and OBJECT_ID.match(m.notification_id) and OBJECT_ID.match(m.subscriber_id)
        assert ISO_DATE.match(m.created_at)
        assert m.transaction_id == tx
    only_chat = novu.messages.retrieve(request={"subscriber_id": s["id"], "channel": "chat"}).result.data
    assert [m.channel for m in only_chat] == ["chat"]
    assert len(novu.messages.retrieve(request={"transaction_id": [tx, uid("other")]}).result.data) == 2
    expect_error(models.ErrorDto, 404, novu.messages.retrieve, request={"subscriber_id": uid("py-ev-nobody")})
    for url, text in answers[start:]:
        assert_no_secrets(text, s["secrets"], url)


@op("py", "notifications.list")
def test_notifications_list(env):
    """the trigger's notification with its jobs and execution details; no secret"""
    s = subscriber(novu, env, "py-ev-feed")
    tx = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "N1"}).transaction_id
    settled(novu, tx, 2)
    start = len(answers)
    listing = novu.notifications.list(request={"transaction_id": tx}).result
    assert (listing.page, listing.has_more, len(listing.data)) == (0, False, 1)
    n = listing.data[0]
    assert n.transaction_id == tx
    assert n.subscriber.subscriber_id == s["id"]
    assert n.template.triggers[0].identifier == env["workflow_id"]
    assert sorted((j.type, j.status, j.provider_id) for j in n.jobs) == [("chat", "completed", "slack"), ("push", "completed", "push-webhook")]
    for j in n.jobs:
        assert j.execution_details[-1].status == "Success"
    by_subscriber = novu.notifications.list(request={"subscriber_ids": [s["id"]], "channels": ["push"]}).result.data
    assert [x.transaction_id for x in by_subscriber] == [tx]
    for url, text in answers[start:]:
        assert_no_secrets(text, s["secrets"], url)


@op("py", "notifications.retrieve")
def test_notification_retrieve(env):
    """by id, the same notification; unknown id is ErrorDto 404"""
    s = subscriber(novu, env, "py-ev-one-n")
    tx = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "R1"}).transaction_id
    settled(novu, tx, 2)
    [n] = novu.notifications.list(request={"transaction_id": tx}).result.data
    start = len(answers)
    one = novu.notifications.retrieve(notification_id=n.id).result
    assert (one.id, one.transaction_id, len(one.jobs)) == (n.id, tx, 2)
    for url, text in answers[start:]:
        assert_no_secrets(text, s["secrets"], url)
    expect_error(models.ErrorDto, 404, novu.notifications.retrieve, notification_id="0123456789abcdef01234567")


@op("py", "messages.delete")
def test_message_delete(env):
    """{acknowledged, status: deleted}; again ErrorDto 404"""
    s = subscriber(novu, env, "py-ev-del")
    tx = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "D1"}).transaction_id
    [m] = [x for x in settled(novu, tx, 2) if x.channel == "chat"]
    r = novu.messages.delete(message_id=m.id).result
    assert (r.acknowledged, r.status) == (True, "deleted")
    assert [x.channel for x in novu.messages.retrieve(request={"transaction_id": [tx]}).result.data] == ["push"]
    expect_error(models.ErrorDto, 404, novu.messages.delete, message_id=m.id)


@op("py", "messages.delete_by_transaction_id")
def test_messages_delete_by_transaction(env):
    """204 for one channel, then the rest; nothing left is ErrorDto 404"""
    s = subscriber(novu, env, "py-ev-deltx")
    tx = trigger(novu, workflow_id=env["workflow_id"], to=s["id"], payload={"orderId": "D2"}).transaction_id
    settled(novu, tx, 2)
    novu.messages.delete_by_transaction_id(transaction_id=tx, channel="push")
    assert [x.channel for x in novu.messages.retrieve(request={"transaction_id": [tx]}).result.data] == ["chat"]
    novu.messages.delete_by_transaction_id(transaction_id=tx)
    assert novu.messages.retrieve(request={"transaction_id": [tx]}).result.data == []
    expect_error(models.ErrorDto, 404, novu.messages.delete_by_transaction_id, transaction_id=tx)
