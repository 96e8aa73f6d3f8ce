"""novu-py 3.19.0: subscribers (v2 create/retrieve/patch/delete, v1 bulk), credentials and the
online flag, through the SDK calls."""

import pytest
from novu_py import models

from sdkutil import (
    ISO_DATE,
    assert_py_subscriber,
    expect_error,
    op,
    py_client,
    setup_integration,
    uid,
)

novu = py_client()


@pytest.fixture(scope="module")
def fcm():
    return setup_integration("fcm", "push")


@pytest.fixture(scope="module")
def discord():
    return setup_integration("discord", "chat")


def profile():
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{uid('ada')}@example.com".lower(),
        "phone": "+15555550100",
        "avatar": "https://example.com/ada.png",
        "locale": "en-US",
        "timezone": "Europe/London",
        "data": {"plan": "pro", "seats": 3, "nested": {"ok": True}},
    }


def new_subscriber(prefix):
    subscriber_id = uid(prefix)
    novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": "Py"})
    return subscriber_id


def channel_of(s, provider_id):
    matching = [c for c in (s.channels or []) if c.provider_id == provider_id]
    assert len(matching) <= 1, s.channels
    return matching[0] if matching else None


@op("py", "subscribers.create")
def test_create_new():
    """new subscriber: 201 with every profile field"""
    subscriber_id = uid("py-create")
    p = profile()
    s = novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, **p}).result
    assert_py_subscriber(s, subscriber_id)
    for k in ["first_name", "last_name", "email", "phone", "avatar", "locale", "timezone"]:
        assert getattr(s, k) == p[k], k
    assert s.data == p["data"]
    assert not s.channels


@op("py", "subscribers.create")
def test_create_upsert():
    """existing subscriber is updated (upsert), same id"""
    subscriber_id = uid("py-upsert")
    first = novu.subscribers.create(
        create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": "A", "last_name": "B"}
    ).result
    second = novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": "C"}).result
    assert second.id == first.id
    assert second.first_name == "C"
    assert second.last_name == "B"


@op("py", "subscribers.create")
def test_create_fail_if_exists():
    """failIfExists on existing: SubscriberResponseDtoError, status 409, carries the subscriber"""
    subscriber_id = uid("py-fail-if-exists")
    created = novu.subscribers.create(
        create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": "Orig"}, fail_if_exists=True
    ).result
    assert created.first_name == "Orig"
    err = expect_error(
        models.SubscriberResponseDtoError,
        409,
        novu.subscribers.create,
        create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": "Other"},
        fail_if_exists=True,
    )
    assert err.data.subscriber_id == subscriber_id
    assert err.data.id == created.id
    assert err.data.first_name == "Orig"


@op("py", "subscribers.retrieve")
def test_retrieve():
    """returns the stored subscriber"""
    subscriber_id = uid("py-retrieve")
    p = profile()
    created = novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, **p}).result
    s = novu.subscribers.retrieve(subscriber_id=subscriber_id).result
    assert_py_subscriber(s, subscriber_id)
    assert s.id == created.id
    assert s.email == p["email"]
    assert s.data == p["data"]


@op("py", "subscribers.retrieve")
def test_retrieve_unknown():
    """unknown subscriber: ErrorDto with status 404"""
    subscriber_id = uid("py-missing")
    err = expect_error(models.ErrorDto, 404, novu.subscribers.retrieve, subscriber_id=subscriber_id)
    assert err.data.status_code == 404
    assert err.data.path == f"/v2/subscribers/{subscriber_id}"
    assert subscriber_id in str(err.data.message)


@op("py", "subscribers.retrieve")
def test_retrieve_special_ids():
    """ids with @ and + round-trip (novu-py sends them unencoded)"""
    subscriber_id = f"{uid('mail')}+tag@example.com"
    created = novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id}).result
    s = novu.subscribers.retrieve(subscriber_id=subscriber_id).result
    assert s.subscriber_id == subscriber_id
    assert s.id == created.id


@op("py", "subscribers.patch")
def test_patch():
    """sets given fields, None clears, others kept"""
    subscriber_id = uid("py-patch")
    p = profile()
    novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, **p})
    s = novu.subscribers.patch(
        subscriber_id=subscriber_id,
        patch_subscriber_request_dto={"first_name": "Grace", "phone": None, "data": {"plan": "free"}},
    ).result
    assert_py_subscriber(s, subscriber_id)
    assert s.first_name == "Grace"
    assert not s.phone, f"phone cleared, got {s.phone!r}"
    assert s.last_name == p["last_name"]
    assert s.data == {"plan": "free"}


@op("py", "subscribers.patch")
def test_patch_unknown():
    """unknown subscriber: ErrorDto 404"""
    expect_error(
        models.ErrorDto,
        404,
        novu.subscribers.patch,
        subscriber_id=uid("py-patch-missing"),
        patch_subscriber_request_dto={"first_name": "x"},
    )


@op("py", "subscribers.delete")
def test_delete():
    """acknowledged + status deleted, then retrieve is 404"""
    subscriber_id = new_subscriber("py-delete")
    r = novu.subscribers.delete(subscriber_id=subscriber_id).result
    assert r.acknowledged is True
    assert r.status == "deleted"
    expect_error(models.ErrorDto, 404, novu.subscribers.retrieve, subscriber_id=subscriber_id)
    expect_error(models.ErrorDto, 404, novu.subscribers.delete, subscriber_id=subscriber_id)


@op("py", "subscribers.create_bulk")
def test_create_bulk():
    """201 with created/updated/failed; profiles stored"""
    existing = new_subscriber("py-bulk-existing")
    fresh = [uid("py-bulk-a"), uid("py-bulk-b")]
    r = novu.subscribers.create_bulk(
        bulk_subscriber_create_dto={
            "subscribers": [
                {"subscriber_id": fresh[0], "email": "a@example.com", "data": {"n": 1}},
                {"subscriber_id": existing, "first_name": "After"},
                {"subscriber_id": fresh[1]},
            ]
        }
    ).result
    assert [c.subscriber_id for c in r.created] == fresh
    assert [c.subscriber_id for c in r.updated] == [existing]
    assert r.failed == []
    assert novu.subscribers.retrieve(subscriber_id=existing).result.first_name == "After"
    a = novu.subscribers.retrieve(subscriber_id=fresh[0]).result
    assert a.email == "a@example.com"
    assert a.data == {"n": 1}


@op("py", "subscribers.credentials.update")
def test_credentials_update(fcm):
    """PUT sets deduplicated device tokens bound to the integration; PUT again replaces"""
    subscriber_id = new_subscriber("py-cred-put")
    put = lambda tokens: novu.subscribers.credentials.update(  # noqa: E731
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={
            "provider_id": "fcm",
            "integration_identifier": fcm["identifier"],
            "credentials": {"device_tokens": tokens},
        },
    ).result
    s = put(["t1", "t2", "t1"])
    assert_py_subscriber(s, subscriber_id)
    ch = channel_of(s, "fcm")
    assert ch.credentials.device_tokens == ["t1", "t2"]
    assert ch.integration_id == fcm["_id"]
    assert ch.integration_identifier == fcm["identifier"]
    assert channel_of(put(["t3"]), "fcm").credentials.device_tokens == ["t3"]


@op("py", "subscribers.credentials.update")
def test_credentials_update_chat(discord):
    """chat webhook_url round-trips"""
    subscriber_id = new_subscriber("py-cred-chat")
    s = novu.subscribers.credentials.update(
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={
            "provider_id": "discord",
            "integration_identifier": discord["identifier"],
            "credentials": {"webhook_url": "https://discord.com/api/webhooks/1/x"},
        },
    ).result
    ch = channel_of(s, "discord")
    assert ch.credentials.webhook_url == "https://discord.com/api/webhooks/1/x"
    assert ch.integration_id == discord["_id"]


@op("py", "subscribers.credentials.update")
def test_credentials_update_unknown(fcm):
    """unknown subscriber: ErrorDto 400 (Novu's SubscriberId not found)"""
    subscriber_id = uid("py-cred-missing")
    err = expect_error(
        models.ErrorDto,
        400,
        novu.subscribers.credentials.update,
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={
            "provider_id": "fcm",
            "integration_identifier": fcm["identifier"],
            "credentials": {"device_tokens": ["x"]},
        },
    )
    assert f"SubscriberId: {subscriber_id} not found" in str(err.data.message)


@op("py", "subscribers.credentials.append")
def test_credentials_append(fcm):
    """PATCH unions tokens; without device_tokens keeps them (Herald's deliberate difference)"""
    subscriber_id = new_subscriber("py-cred-patch")
    patch = lambda creds: novu.subscribers.credentials.append(  # noqa: E731
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={
            "provider_id": "fcm",
            "integration_identifier": fcm["identifier"],
            "credentials": creds,
        },
    ).result
    patch({"device_tokens": ["a", "b"]})
    s = patch({"device_tokens": ["b", "c"]})
    assert_py_subscriber(s, subscriber_id)
    assert channel_of(s, "fcm").credentials.device_tokens == ["a", "b", "c"]
    kept = channel_of(patch({"title": "Phone"}), "fcm")
    assert kept.credentials.device_tokens == ["a", "b", "c"]
    assert kept.credentials.title == "Phone"


@op("py", "subscribers.credentials.delete")
def test_credentials_delete(fcm):
    """204; channel removed; repeat still 204; unknown subscriber ErrorDto 404"""
    subscriber_id = new_subscriber("py-cred-del")
    novu.subscribers.credentials.update(
        subscriber_id=subscriber_id,
        update_subscriber_channel_request_dto={
            "provider_id": "fcm",
            "integration_identifier": fcm["identifier"],
            "credentials": {"device_tokens": ["gone"]},
        },
    )
    res = novu.subscribers.credentials.delete(subscriber_id=subscriber_id, provider_id="fcm")
    assert res is None or getattr(res, "result", None) is None
    assert channel_of(novu.subscribers.retrieve(subscriber_id=subscriber_id).result, "fcm") is None
    novu.subscribers.credentials.delete(subscriber_id=subscriber_id, provider_id="fcm")
    expect_error(
        models.ErrorDto,
        404,
        novu.subscribers.credentials.delete,
        subscriber_id=uid("py-cred-del-missing"),
        provider_id="fcm",
    )


@op("py", "subscribers.properties.update_online_flag")
def test_online_flag():
    """sets is_online and last_online_at; unknown subscriber ErrorDto 404"""
    subscriber_id = new_subscriber("py-online")
    on = novu.subscribers.properties.update_online_flag(
        subscriber_id=subscriber_id, update_subscriber_online_flag_request_dto={"is_online": True}
    ).result
    assert_py_subscriber(on, subscriber_id)
    assert on.is_online is True
    off = novu.subscribers.properties.update_online_flag(
        subscriber_id=subscriber_id, update_subscriber_online_flag_request_dto={"is_online": False}
    ).result
    assert off.is_online is False
    assert ISO_DATE.match(off.last_online_at)
    expect_error(
        models.ErrorDto,
        404,
        novu.subscribers.properties.update_online_flag,
        subscriber_id=uid("py-online-missing"),
        update_subscriber_online_flag_request_dto={"is_online": True},
    )


@op("py", "subscribers.create")
def test_create_invalid_email():
    """invalid email: ErrorDto 400 with the validation message"""
    err = expect_error(
        models.ErrorDto,
        400,
        novu.subscribers.create,
        create_subscriber_request_dto={"subscriber_id": uid("py-bad-email"), "email": "not-an-email"},
    )
    assert "email must be an email" in str(err.data.message)


@op("py", "subscribers.retrieve")
def test_retrieve_bad_key():
    """unknown API key: ErrorDto 401"""
    expect_error(models.ErrorDto, 401, py_client(f"not-a-key-{uid('k')}").subscribers.retrieve, subscriber_id=uid("py-401"))
