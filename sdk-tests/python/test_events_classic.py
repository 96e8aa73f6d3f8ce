"""novu 1.14.0 (classic Python): EventApi (trigger, trigger_topic, trigger_bulk, broadcast, delete =
cancel) and the activity reads (MessageApi, NotificationApi, ExecutionDetailApi) through the SDK
calls, on v1 workflows (payload keys at the top level), with the local receiver
(sdk-tests/receiver.mjs) standing in for Slack and the push webhook.

This SDK binds credentials to the environment's newest active integration of the provider (it
sends no integration identifier): the module's integrations are made first, and no later test
of the module makes another.
"""

import json

import pytest
import requests
from novu.api import (
    EventApi,
    ExecutionDetailApi,
    IntegrationApi,
    MessageApi,
    NotificationApi,
    NotificationGroupApi,
    NotificationTemplateApi,
    SubscriberApi,
    TopicApi,
)
from novu.dto.event import InputEventDto
from novu.dto.integration import IntegrationDto
from novu.dto.notification_template import NotificationStepDto, NotificationTemplateFormDto
from novu.dto.subscriber import SubscriberDto
from novu.dto.topic import TriggerTopicDto

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
from sdkutil import API_KEY, BASE_URL, ISOLATED_API_KEY, ISO_DATE, OBJECT_ID, expect_http_error, op, uid


class Apis:
    """The classic SDK's API objects for one key, with a session that keeps every answer's body."""

    def __init__(self, key):
        self.answers = []
        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **k: self.answers.append((r.url, r.text)))
        self.events = EventApi(BASE_URL, key, session=session)
        self.messages = MessageApi(BASE_URL, key, session=session)
        self.notifications = NotificationApi(BASE_URL, key, session=session)
        self.details = ExecutionDetailApi(BASE_URL, key, session=session)
        self.subscribers = SubscriberApi(BASE_URL, key, session=session)
        self.topics = TopicApi(BASE_URL, key, session=session)
        self.integrations = IntegrationApi(BASE_URL, key, session=session)
        self.groups = NotificationGroupApi(BASE_URL, key, session=session)
        self.templates = NotificationTemplateApi(BASE_URL, key, session=session)


dev = Apis(API_KEY)


def template(apis, name, steps, active=True):
    """A v1 workflow in the General group; returns its trigger identifier."""
    general = [g for g in apis.groups.list().data if g.name == "General"][0]
    w = apis.templates.create(NotificationTemplateFormDto(name=name, notification_group_id=general._id, steps=steps, active=active))
    return w.triggers[0].identifier


def chat(content):
    return NotificationStepDto(active=True, template={"type": "chat", "content": content})


def setup_env(apis, prefix):
    """Slack and push-webhook integrations (the newest of their providers) and an active chat+push workflow."""
    e = {"secret": f"whsec-{hexid()}", "push_path": f"/push/{prefix}-{hexid()}"}
    apis.integrations.create(IntegrationDto(provider_id="slack", channel="chat", active=True, credentials={}))
    apis.integrations.create(
        IntegrationDto(
            provider_id="push-webhook",
            channel="push",
            active=True,
            credentials={"webhookUrl": rx_url(e["push_path"]), "secretKey": e["secret"]},
        )
    )
    e["workflow"] = template(
        apis,
        uid(f"{prefix} order shipped"),
        [
            chat("Hi {{subscriber.firstName}}, order {{orderId}} shipped"),
            NotificationStepDto(active=True, template={"type": "push", "title": "Order {{orderId}}", "content": "Shipped to {{subscriber.firstName}}"}),
        ],
    )
    return e


def subscriber(apis, e, prefix, first_name="Ada"):
    """A subscriber with a Slack webhook and a push token on the receiver."""
    subscriber_id = uid(prefix)
    slack_path = f"/slack/{subscriber_id}/{hexid()}"
    token = f"tok-{hexid()}"
    apis.subscribers.create(SubscriberDto(subscriber_id, first_name=first_name))
    apis.subscribers.credentials(subscriber_id, "slack", webhook_url=rx_url(slack_path))
    s = apis.subscribers.credentials(subscriber_id, "push-webhook", device_tokens=[token])
    assert sorted(c.provider_id for c in s.channels) == ["push-webhook", "slack"]
    secrets = [rx_url(slack_path), slack_path, token, rx_url(e["push_path"]), e["push_path"], e["secret"]]
    return {"id": subscriber_id, "slack_path": slack_path, "token": token, "secrets": secrets}


def settled(apis, transaction_id, n):
    """Waits until the transaction's `n` messages are all sent; returns them."""
    return wait_until(
        f"{n} sent message(s) of {transaction_id}",
        lambda: apis.messages.list(limit=100, transaction_id=transaction_id).data,
        lambda d: len(d) >= n and all(m.status == "sent" for m in d),
    )


@pytest.fixture(scope="module")
def env():
    return setup_env(dev, "pyc-ev")


@op("pyc", "EventApi.trigger")
def test_trigger_one(env):
    """one subscriber: EventDto processed; chat and push reach the receiver rendered and signed"""
    s = subscriber(dev, env, "pyc-ev-one")
    ev = dev.events.trigger(env["workflow"], s["id"], {"orderId": "A=1"})
    assert (ev.acknowledged, ev.status) == (True, "processed")
    assert isinstance(ev.transaction_id, str) and len(ev.transaction_id) == 36
    [c] = wait_for_requests(s["slack_path"], 1)
    assert c["json"] == {"text": "Hi Ada, order A&#x3D;1 shipped"}
    [p] = wait_for_requests(env["push_path"], 1, push_for(s["token"]))
    assert (p["json"]["title"], p["json"]["content"], p["json"]["payload"]["orderId"]) == ("Order A&#x3D;1", "Shipped to Ada", "A=1")
    assert p["headers"]["x-novu-signature"] == signature(env["secret"], p["body"])


@op("pyc", "EventApi.trigger")
def test_trigger_overrides(env):
    """overrides.slack (v1 form) reaches Slack's body, overrides['push-webhook'] the push body"""
    s = subscriber(dev, env, "pyc-ev-ovr")
    blocks = [{"type": "divider"}]
    ev = dev.events.trigger(env["workflow"], s["id"], {"orderId": "9"}, overrides={"slack": {"blocks": blocks}, "push-webhook": {"badge": 3}})
    assert ev.status == "processed"
    [c] = wait_for_requests(s["slack_path"], 1)
    assert c["json"] == {"text": "Hi Ada, order 9 shipped", "blocks": blocks}
    [p] = wait_for_requests(env["push_path"], 1, push_for(s["token"]))
    assert p["json"]["overrides"] == {"badge": 3}


@op("pyc", "EventApi.trigger_topic")
def test_trigger_topic(env):
    """to a topic (TriggerTopicDto): each of its subscribers once"""
    a, b = subscriber(dev, env, "pyc-ev-ta", "Ann"), subscriber(dev, env, "pyc-ev-tb", "Bob")
    key = uid("pyc-ev-topic")
    dev.topics.create(key, "Orders")
    dev.topics.subscribe(key, [a["id"], b["id"]])
    ev = dev.events.trigger_topic(env["workflow"], TriggerTopicDto(key, "Topic"), {"orderId": "T"})
    assert ev.status == "processed"
    assert texts(wait_for_requests(a["slack_path"], 1)) == ["Hi Ann, order T shipped"]
    assert texts(wait_for_requests(b["slack_path"], 1)) == ["Hi Bob, order T shipped"]
    assert len(settled(dev, ev.transaction_id, 4)) == 4


@op("pyc", "EventApi.trigger")
def test_trigger_mixed(env):
    """a list of an id, a subscriber object and a topic; actor; transaction_id kept"""
    workflow = template(dev, uid("pyc ev actor"), [chat("{{actor.firstName}} to {{subscriber.firstName}}: {{n}}")])
    a, b, actor = subscriber(dev, env, "pyc-ev-ma", "Ann"), subscriber(dev, env, "pyc-ev-mb", "Bob"), subscriber(dev, env, "pyc-ev-act", "Zed")
    key = uid("pyc-ev-mix")
    dev.topics.create(key, "Mix")
    dev.topics.subscribe(key, [a["id"], b["id"], actor["id"]])
    inline_id = uid("pyc-ev-inline")
    transaction_id = uid("pyc-ev-tx")
    ev = dev.events.trigger(
        workflow,
        [a["id"], {"subscriberId": inline_id, "firstName": "Ina"}, {"type": "Topic", "topicKey": key}],
        {"n": 4},
        actor=actor["id"],
        transaction_id=transaction_id,
    )
    assert (ev.status, ev.transaction_id) == ("processed", transaction_id)
    assert texts(wait_for_requests(a["slack_path"], 1)) == ["Zed to Ann: 4"]
    assert texts(wait_for_requests(b["slack_path"], 1)) == ["Zed to Bob: 4"]
    assert len(settled(dev, transaction_id, 2)) == 2
    # Ina (created inline, no channel) has a notification but no message; the actor has neither.
    notified = {n.subscriber._id for n in dev.notifications.list(transaction_id=transaction_id).data}
    ids = {dev.subscribers.get(x["id"])._id for x in (a, b)} | {dev.subscribers.get(inline_id)._id}
    assert notified == ids
    assert received(actor["slack_path"]) == []
    assert len(received(a["slack_path"])) == 1
    assert dev.subscribers.get(inline_id).first_name == "Ina"


@op("pyc", "EventApi.trigger")
def test_trigger_inactive_and_unknown(env):
    """inactive workflow: EventDto trigger_not_active, nothing sent; unknown: HTTPError 422 workflow_not_found"""
    s = subscriber(dev, env, "pyc-ev-inactive")
    off = template(dev, uid("pyc ev off"), [chat("x")], active=False)
    ev = dev.events.trigger(off, s["id"], {})
    assert (ev.acknowledged, ev.status) == (True, "trigger_not_active")
    assert dev.messages.list(subscriber_id=s["id"]).data == []
    body = expect_http_error(422, dev.events.trigger, uid("pyc-ev-none"), s["id"], {})
    assert body["message"] == "workflow_not_found"


@op("pyc", "EventApi.trigger_bulk")
def test_bulk(env):
    """InputEventDto list: each event's EventDto in order; each recipient its own payload"""
    subs = [subscriber(dev, env, f"pyc-ev-b{i}") for i in range(2)]
    out = dev.events.trigger_bulk([InputEventDto(env["workflow"], s["id"], {"orderId": f"B{i}"}) for i, s in enumerate(subs)])
    assert [e.status for e in out] == ["processed", "processed"]
    assert len({e.transaction_id for e in out}) == 2
    for i, s in enumerate(subs):
        assert texts(wait_for_requests(s["slack_path"], 1)) == [f"Hi Ada, order B{i} shipped"]
    expect_http_error(400, dev.events.trigger_bulk, [InputEventDto(env["workflow"], subs[0]["id"], {})] * 101)


@op("pyc", "EventApi.broadcast")
@pytest.mark.skipif(not ISOLATED_API_KEY, reason="HERALD_ISOLATED_API_KEY not set")
def test_broadcast():
    """every subscriber of the environment gets it (a second environment, kept to this test's subscribers)"""
    iso = Apis(ISOLATED_API_KEY)
    e = setup_env(iso, "pyc-bc")
    subs = [subscriber(iso, e, "pyc-bc-a", "Ann"), subscriber(iso, e, "pyc-bc-b", "Bob")]
    nonce = hexid()
    try:
        ev = iso.events.broadcast(e["workflow"], {"orderId": nonce})
        assert ev.status == "processed"

        def mine(x):
            return nonce in (x["json"] or {}).get("text", "")

        assert texts(wait_for_requests(subs[0]["slack_path"], 1, mine)) == [f"Hi Ann, order {nonce} shipped"]
        assert texts(wait_for_requests(subs[1]["slack_path"], 1, mine)) == [f"Hi Bob, order {nonce} shipped"]
        pushes = wait_for_requests_under(e["push_path"], 2, lambda x: (x["json"] or {}).get("title") == f"Order {nonce}")
        assert sorted(x["json"]["target"][0] for x in pushes) == sorted(s["token"] for s in subs)
    finally:
        for s in subs:
            iso.subscribers.delete(s["id"])


@op("pyc", "EventApi.delete")
def test_cancel(env):
    """cancels a message waiting for its retry: the job is canceled, only the first attempt arrived"""
    # Deterministic: the first attempt gets 503 with Retry-After: 3600, so the job waits an hour.
    s = subscriber(dev, env, "pyc-ev-cancel")
    workflow = template(dev, uid("pyc ev cancel"), [chat("Later {{n}}")])
    script(s["slack_path"], [{"status": 503, "body": "busy", "headers": {"retry-after": "3600"}}])
    tx = dev.events.trigger(workflow, s["id"], {"n": 1}).transaction_id
    wait_for_requests(s["slack_path"], 1)
    wait_until(
        "the message to wait for its retry",
        lambda: dev.messages.list(transaction_id=tx).data,
        lambda d: len(d) == 1 and d[0].status == "warning",
    )
    start = len(dev.answers)
    assert dev.events.delete(tx) is None
    assert json.loads(dev.answers[start][1]) == {"data": True}
    dev.events.delete(tx)
    assert json.loads(dev.answers[start + 1][1]) == {"data": False}
    [n] = dev.notifications.list(transaction_id=tx).data
    assert [j["status"] for j in n.jobs] == ["canceled"]
    assert len(received(s["slack_path"])) == 1


@op("pyc", "MessageApi.list")
def test_messages(env):
    """by subscriber, channel and transaction_id: MessageDto sent, with Novu's fields; no secret"""
    s = subscriber(dev, env, "pyc-ev-msgs")
    tx = dev.events.trigger(env["workflow"], s["id"], {"orderId": "M"}).transaction_id
    settled(dev, tx, 2)
    start = len(dev.answers)
    page = dev.messages.list(subscriber_id=s["id"])
    assert (page.page, page.total_count, page.page_size) == (0, 2, 10)
    for m in page.data:
        assert OBJECT_ID.match(m._id) and OBJECT_ID.match(m._environment_id) and OBJECT_ID.match(m._subscriber_id)
        assert (m.status, m.transaction_id, m.template_identifier) == ("sent", tx, env["workflow"])
        assert ISO_DATE.match(m.created_at)
    [c] = dev.messages.list(subscriber_id=s["id"], channel="chat").data
    assert (c.channel, c.provider_id, c.content) == ("chat", "slack", "Hi Ada, order M shipped")
    assert {m.channel for m in dev.messages.list(transaction_id=tx).data} == {"chat", "push"}
    for url, text in dev.answers[start:]:
        assert_no_secrets(text, s["secrets"], url)


@op("pyc", "NotificationApi.list")
def test_notifications_list(env):
    """ActivityNotificationDto of the trigger with its jobs; no secret"""
    s = subscriber(dev, env, "pyc-ev-feed")
    tx = dev.events.trigger(env["workflow"], s["id"], {"orderId": "N"}).transaction_id
    settled(dev, tx, 2)
    start = len(dev.answers)
    page = dev.notifications.list(transaction_id=tx)
    assert len(page.data) == 1
    n = page.data[0]
    assert OBJECT_ID.match(n._environment_id) and OBJECT_ID.match(n._organization_id)
    assert n.transaction_id == tx
    assert n.subscriber._id and n.template.name
    assert sorted((j["type"], j["status"]) for j in n.jobs) == [("chat", "completed"), ("push", "completed")]
    by_subscriber = dev.notifications.list(subscriber_ids=[s["id"]], channels=["chat"]).data
    assert [x.transaction_id for x in by_subscriber] == [tx]
    for url, text in dev.answers[start:]:
        assert_no_secrets(text, s["secrets"], url)


@op("pyc", "NotificationApi.get")
def test_notification_get(env):
    """by id, the same notification; unknown id is HTTPError 404"""
    s = subscriber(dev, env, "pyc-ev-one-n")
    tx = dev.events.trigger(env["workflow"], s["id"], {"orderId": "G"}).transaction_id
    settled(dev, tx, 2)
    [n] = dev.notifications.list(transaction_id=tx).data
    one = dev.notifications.get(n._id)
    assert (one._id, one.transaction_id, len(one.jobs)) == (n._id, tx, 2)
    expect_http_error(404, dev.notifications.get, "0123456789abcdef01234567")


@op("pyc", "ExecutionDetailApi.list")
def test_execution_details(env):
    """ExecutionDetailDto per step of the attempt, Message sent for both channels; no secret"""
    s = subscriber(dev, env, "pyc-ev-ed")
    tx = dev.events.trigger(env["workflow"], s["id"], {"orderId": "E"}).transaction_id
    settled(dev, tx, 2)
    # MessageDto has no notification id: the notification comes from NotificationApi.
    [n] = dev.notifications.list(transaction_id=tx).data
    start = len(dev.answers)
    details = list(dev.details.list(n._id, s["id"]))
    assert len(details) >= 2
    for d in details:
        assert OBJECT_ID.match(d._id)
        assert (d.transaction_id, d.is_retry) == (tx, False)
    # Chat says `Message sent`, push `Message sent: <providerId>` (Novu's texts).
    sent = [d.channel for d in details if d.detail.startswith("Message sent") and d.status == "Success"]
    assert sorted(sent) == ["chat", "push"]
    for url, text in dev.answers[start:]:
        assert_no_secrets(text, s["secrets"], url)


@op("pyc", "MessageApi.delete")
def test_message_delete(env):
    """True; then the message is gone and deleting again is HTTPError 404"""
    s = subscriber(dev, env, "pyc-ev-del")
    tx = dev.events.trigger(env["workflow"], s["id"], {"orderId": "D"}).transaction_id
    [m] = [x for x in settled(dev, tx, 2) if x.channel == "chat"]
    assert dev.messages.delete(m._id) is True
    assert [x.channel for x in dev.messages.list(transaction_id=tx).data] == ["push"]
    expect_http_error(404, dev.messages.delete, m._id)
