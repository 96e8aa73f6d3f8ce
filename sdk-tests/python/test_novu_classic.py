"""novu 1.14.0 (classic, requests): SubscriberApi and IntegrationApi through the SDK calls. It
sends explicit nulls for every unset field, reads `["data"]`, builds dataclasses (a missing
required field raises TypeError) and raises requests.HTTPError on any non-2xx."""

import pytest
from novu.api import IntegrationApi, SubscriberApi
from novu.dto.integration import IntegrationDto
from novu.dto.subscriber import SubscriberDto
from novu.enums import Channel, ChatProviderIdEnum, PushProviderIdEnum

from sdkutil import (
    API_KEY,
    BASE_URL,
    ISO_DATE,
    ISOLATED_API_KEY,
    OBJECT_ID,
    UNKNOWN_OBJECT_ID,
    expect_http_error,
    op,
    raw,
    setup_integration,
    uid,
)

subscribers = SubscriberApi(BASE_URL, API_KEY)
integrations = IntegrationApi(BASE_URL, API_KEY)
# A user whose url ends in "/" makes the SDK call "//v1/...".
slash_subscribers = SubscriberApi(f"{BASE_URL}/", API_KEY)


@pytest.fixture(scope="module", autouse=True)
def _integrations():
    # pyc's credentials() sends no integrationIdentifier: the newest active integration of the
    # provider is used, so make sure one exists.
    setup_integration("apns", "push")
    setup_integration("msteams", "chat")


def assert_subscriber(s, subscriber_id):
    assert isinstance(s, SubscriberDto)
    assert s.subscriber_id == subscriber_id
    assert OBJECT_ID.match(s._id)
    assert OBJECT_ID.match(s._organization_id)
    assert OBJECT_ID.match(s._environment_id)
    assert s.deleted is False
    assert ISO_DATE.match(s.created_at) and ISO_DATE.match(s.updated_at)


def channel_of(s, provider_id):
    matching = [c for c in s.channels if c.provider_id == provider_id]
    return matching[0] if matching else None


@op("pyc", "SubscriberApi.create")
def test_create():
    """creates with profile fields (unset ones sent as null); again updates"""
    subscriber_id = uid("pyc-create")
    s = subscribers.create(
        SubscriberDto(subscriber_id, email="pyc@example.com", first_name="Py", last_name="Classic", data={"k": 1})
    )
    assert_subscriber(s, subscriber_id)
    assert (s.email, s.first_name, s.last_name, s.data) == ("pyc@example.com", "Py", "Classic", {"k": 1})
    again = subscribers.create(SubscriberDto(subscriber_id, first_name="Again", email="pyc@example.com"))
    assert again._id == s._id
    assert again.first_name == "Again"
    assert again.last_name == "Classic", "null leaves a field unchanged on upsert"


@op("pyc", "SubscriberApi.create")
def test_create_trailing_slash():
    """url ending in / (SDK calls //v1/subscribers)"""
    subscriber_id = uid("pyc-slash")
    s = slash_subscribers.create(SubscriberDto(subscriber_id, first_name="Slash"))
    assert_subscriber(s, subscriber_id)
    assert slash_subscribers.get(subscriber_id).first_name == "Slash"


@op("pyc", "SubscriberApi.get")
def test_get():
    """returns the subscriber; unknown is HTTPError 404 with Novu's error body"""
    subscriber_id = uid("pyc-get")
    subscribers.create(SubscriberDto(subscriber_id, last_name="Get"))
    s = subscribers.get(subscriber_id)
    assert_subscriber(s, subscriber_id)
    assert s.last_name == "Get"
    missing = uid("pyc-missing")
    body = expect_http_error(404, subscribers.get, missing)
    assert missing in body["message"]


@op("pyc", "SubscriberApi.list")
@pytest.mark.skipif(not ISOLATED_API_KEY, reason="HERALD_ISOLATED_API_KEY not set")
def test_list():
    """pages (default size 10) and stream() find every subscriber (nearly empty environment)"""
    iso = SubscriberApi(BASE_URL, ISOLATED_API_KEY)
    ids = [uid(f"pyc-list-{i}") for i in range(12)]
    iso.bulk_create([SubscriberDto(i) for i in ids])
    try:
        first = iso.list()
        assert first.page == 0
        assert first.page_size == 10
        assert len(first.data) == 10
        second = iso.list(page=1)
        assert second.page == 1
        assert not {s.subscriber_id for s in first.data} & {s.subscriber_id for s in second.data}
        streamed = [s.subscriber_id for s in iso.stream()]
        for i in ids:
            assert i in streamed
    finally:
        for i in ids:
            iso.delete(i)


@op("pyc", "SubscriberApi.put")
def test_put():
    """PUT: given fields set, null leaves others (except email, which null clears, as in Novu)"""
    subscriber_id = uid("pyc-put")
    subscribers.create(SubscriberDto(subscriber_id, email="put@example.com", first_name="A", last_name="B"))
    s = subscribers.put(SubscriberDto(subscriber_id, first_name="C", phone="+15555550102"))
    assert_subscriber(s, subscriber_id)
    assert (s.first_name, s.last_name, s.phone) == ("C", "B", "+15555550102")
    assert s.email is None
    body = expect_http_error(400, subscribers.put, SubscriberDto(uid("pyc-put-missing"), first_name="x"))
    assert "not found" in body["message"]


@op("pyc", "SubscriberApi.delete")
def test_delete():
    """deletes; get then 404; delete again 404"""
    subscriber_id = uid("pyc-delete")
    subscribers.create(SubscriberDto(subscriber_id))
    subscribers.delete(subscriber_id)
    expect_http_error(404, subscribers.get, subscriber_id)
    expect_http_error(404, subscribers.delete, subscriber_id)


@op("pyc", "SubscriberApi.bulk_create")
def test_bulk_create():
    """created/updated lists (bodies carry nulls for unset fields)"""
    existing = uid("pyc-bulk-existing")
    subscribers.create(SubscriberDto(existing))
    fresh = [uid("pyc-bulk-a"), uid("pyc-bulk-b")]
    r = subscribers.bulk_create(
        [SubscriberDto(fresh[0], first_name="A"), SubscriberDto(existing, first_name="U"), SubscriberDto(fresh[1])]
    )
    assert [s.subscriber_id for s in r.created] == fresh
    assert [s.subscriber_id for s in r.updated] == [existing]
    assert list(r.failed) == []
    assert subscribers.get(existing).first_name == "U"


@op("pyc", "SubscriberApi.credentials")
def test_credentials_push():
    """PUT device tokens (no integrationIdentifier); replace on repeat"""
    subscriber_id = uid("pyc-cred")
    subscribers.create(SubscriberDto(subscriber_id))
    s = subscribers.credentials(subscriber_id, PushProviderIdEnum.APNS, device_tokens=["p1", "p2", "p1"])
    assert_subscriber(s, subscriber_id)
    ch = channel_of(s, "apns")
    assert ch.credentials.device_tokens == ["p1", "p2"]
    assert OBJECT_ID.match(ch._integration_id)
    s = subscribers.credentials(subscriber_id, PushProviderIdEnum.APNS, device_tokens=["p3"])
    assert channel_of(s, "apns").credentials.device_tokens == ["p3"]


@op("pyc", "SubscriberApi.credentials")
def test_credentials_chat():
    """PUT webhook_url for a chat provider"""
    subscriber_id = uid("pyc-cred-chat")
    subscribers.create(SubscriberDto(subscriber_id))
    s = subscribers.credentials(subscriber_id, ChatProviderIdEnum.MS_TEAMS, webhook_url="https://teams.example.com/hook")
    ch = channel_of(s, "msteams")
    assert ch.credentials.webhook_url == "https://teams.example.com/hook"
    assert channel_of(subscribers.get(subscriber_id), "msteams").credentials.webhook_url == "https://teams.example.com/hook"


@op("pyc", "SubscriberApi.delete_credentials")
def test_delete_credentials():
    """204; channel removed; unknown subscriber 404"""
    subscriber_id = uid("pyc-delcred")
    subscribers.create(SubscriberDto(subscriber_id))
    subscribers.credentials(subscriber_id, PushProviderIdEnum.APNS, device_tokens=["x"])
    assert subscribers.delete_credentials(subscriber_id, PushProviderIdEnum.APNS) is None
    assert channel_of(subscribers.get(subscriber_id), "apns") is None
    expect_http_error(404, subscribers.delete_credentials, uid("pyc-delcred-missing"), PushProviderIdEnum.APNS)


@op("pyc", "SubscriberApi.online_status")
def test_online_status():
    """sets is_online and last_online_at"""
    subscriber_id = uid("pyc-online")
    subscribers.create(SubscriberDto(subscriber_id))
    s = subscribers.online_status(subscriber_id, True)
    assert_subscriber(s, subscriber_id)
    assert s.is_online is True
    s = subscribers.online_status(subscriber_id, False)
    assert s.is_online is False
    assert ISO_DATE.match(s.last_online_at)
    expect_http_error(404, subscribers.online_status, uid("pyc-online-missing"), True)


def assert_integration(i):
    assert isinstance(i, IntegrationDto)
    assert OBJECT_ID.match(i._id)
    assert OBJECT_ID.match(i._environment_id)
    assert i.deleted is False


@op("pyc", "IntegrationApi.create")
def test_integration_create():
    """sends no name/identifier (server generates them); 201"""
    i = integrations.create(
        IntegrationDto(ChatProviderIdEnum.DISCORD, Channel.CHAT, True, credentials={"apiKey": "k"}), check=False
    )
    assert_integration(i)
    assert (i.provider_id, i.channel, i.active) == ("discord", "chat", True)
    assert i.credentials == {"apiKey": "k"}


@op("pyc", "IntegrationApi.list")
def test_integration_list():
    """list() and list(only_active=True)"""
    a = integrations.create(IntegrationDto(PushProviderIdEnum.EXPO, Channel.PUSH, True))
    b = integrations.create(IntegrationDto(PushProviderIdEnum.EXPO, Channel.PUSH, False))
    all_ids = [i._id for i in integrations.list()]
    assert a._id in all_ids and b._id in all_ids
    active = list(integrations.list(only_active=True))
    assert a._id in [i._id for i in active] and b._id not in [i._id for i in active]
    assert all(i.active for i in active)


@op("pyc", "IntegrationApi.update")
def test_integration_update():
    """PUT with providerId/channel in the body (extra keys ignored)"""
    i = integrations.create(IntegrationDto(PushProviderIdEnum.FCM, Channel.PUSH, False))
    u = integrations.update(
        IntegrationDto(PushProviderIdEnum.FCM, Channel.PUSH, True, credentials={"projectName": "p"}, _id=i._id)
    )
    assert_integration(u)
    assert u._id == i._id
    assert u.active is True
    assert u.credentials == {"projectName": "p"}
    expect_http_error(404, integrations.update, IntegrationDto("fcm", "push", True, _id=UNKNOWN_OBJECT_ID))


@op("pyc", "IntegrationApi.delete")
def test_integration_delete():
    """deletes; gone from list; again 404"""
    i = integrations.create(IntegrationDto(ChatProviderIdEnum.SLACK, Channel.CHAT, False))
    assert integrations.delete(i._id) is None
    assert i._id not in [x._id for x in integrations.list()]
    expect_http_error(404, integrations.delete, i._id)


@op("pyc", "IntegrationApi.set_primary")
def test_integration_set_primary():
    """returns the integration, now primary"""
    i = integrations.create(IntegrationDto(PushProviderIdEnum.APNS, Channel.PUSH, True))
    p = integrations.set_primary(i._id)
    assert_integration(p)
    assert p._id == i._id
    assert p.active is True
    # IntegrationDto has no `primary` field: check it on the wire.
    _, listed, _ = raw("GET", "/v1/integrations")
    assert [x["primary"] for x in listed["data"] if x["_id"] == i._id] == [True]
    expect_http_error(404, integrations.set_primary, UNKNOWN_OBJECT_ID)


@op("pyc", "SubscriberApi.get")
def test_get_bad_key():
    """unknown API key: HTTPError 401 with Novu's error body"""
    expect_http_error(401, SubscriberApi(BASE_URL, f"not-a-key-{uid('k')}").get, uid("pyc-401"))
