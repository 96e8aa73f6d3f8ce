"""novu-py 3.19.0: integrations (create, list, list_active, update, delete, set_as_primary)
through the SDK calls."""

import re

import pytest
import requests
from novu.api import IntegrationApi
from novu.dto.integration import IntegrationDto
from novu_py import models

from sdkutil import (
    BASE_URL,
    ISOLATED_API_KEY,
    OBJECT_ID,
    UNKNOWN_OBJECT_ID,
    expect_error,
    op,
    py_client,
    raw,
    uid,
)

novu = py_client()


def assert_integration(i):
    assert OBJECT_ID.match(i.id)
    assert OBJECT_ID.match(i.environment_id)
    assert OBJECT_ID.match(i.organization_id)
    assert isinstance(i.name, str) and isinstance(i.identifier, str)
    assert isinstance(i.active, bool) and isinstance(i.primary, bool)
    assert i.deleted is False


def create(provider_id, channel, **extra):
    body = {"provider_id": provider_id, "channel": channel, "identifier": uid(f"py-{provider_id}")}
    body.update(extra)
    return novu.integrations.create(create_integration_request_dto=body).result


@op("py", "integrations.create")
def test_create():
    """201 with name, identifier, credentials, active as given"""
    identifier = uid("py-int")
    i = novu.integrations.create(
        create_integration_request_dto={
            "provider_id": "apns",
            "channel": "push",
            "name": "My APNs",
            "identifier": identifier,
            "credentials": {"secret_key": "k", "project_name": "proj"},
            "active": True,
            "check": False,
        }
    ).result
    assert_integration(i)
    assert i.provider_id == "apns"
    assert i.channel == "push"
    assert i.name == "My APNs"
    assert i.identifier == identifier
    assert i.active is True
    assert (i.credentials.secret_key, i.credentials.project_name) == ("k", "proj")


@op("py", "integrations.create")
def test_create_generated_identifier():
    """without name/identifier: server generates them; inactive by default"""
    i = novu.integrations.create(create_integration_request_dto={"provider_id": "mattermost", "channel": "chat"}).result
    assert_integration(i)
    assert i.name
    assert re.match(r"^[a-z0-9-]+-[0-9A-Za-z_-]{9}$", i.identifier), i.identifier
    assert i.active is False


@op("py", "integrations.list")
def test_list():
    """contains active and inactive integrations of the environment"""
    a = create("expo", "push", active=True)
    b = create("expo", "push", active=False)
    items = {i.id: i for i in novu.integrations.list().result}
    assert items[a.id].active is True
    assert items[b.id].active is False
    for i in items.values():
        assert_integration(i)


@op("py", "integrations.list_active")
def test_list_active():
    """only active integrations"""
    a = create("one-signal", "push", active=True)
    b = create("one-signal", "push", active=False)
    items = novu.integrations.list_active().result
    ids = [i.id for i in items]
    assert a.id in ids
    assert b.id not in ids
    assert all(i.active for i in items)


@op("py", "integrations.update")
def test_update():
    """changes name, identifier, active, credentials"""
    i = create("zulip", "chat", active=False)
    new_identifier = uid("py-upd-new")
    u = novu.integrations.update(
        integration_id=i.id,
        update_integration_request_dto={
            "name": "Renamed",
            "identifier": new_identifier,
            "active": True,
            "credentials": {"webhook_url": "https://zulip.example.com/hook"},
            "check": False,
        },
    ).result
    assert_integration(u)
    assert u.id == i.id
    assert (u.name, u.identifier, u.active) == ("Renamed", new_identifier, True)
    assert u.credentials.webhook_url == "https://zulip.example.com/hook"
    assert any(x.id == i.id and x.name == "Renamed" for x in novu.integrations.list_active().result)


@op("py", "integrations.update")
def test_update_unknown():
    """unknown id: APIError 404 (the SDK maps 404 to APIError here)"""
    expect_error(
        models.APIError,
        404,
        novu.integrations.update,
        integration_id=UNKNOWN_OBJECT_ID,
        update_integration_request_dto={"name": "x"},
    )


@op("py", "integrations.delete")
def test_delete():
    """200 with the remaining integrations; deleted one gone"""
    keep = create("rocket-chat", "chat")
    gone = create("rocket-chat", "chat", active=True)
    remaining = novu.integrations.delete(integration_id=gone.id).result
    ids = [i.id for i in remaining]
    assert keep.id in ids and gone.id not in ids
    assert gone.id not in [i.id for i in novu.integrations.list().result]
    expect_error(models.ErrorDto, 404, novu.integrations.delete, integration_id=gone.id)


@op("py", "integrations.set_as_primary")
def test_set_as_primary():
    """200, primary and active; the previous primary of the channel loses it"""
    a = create("pusher-beams", "push", active=True)
    b = create("pusher-beams", "push", active=True)
    pa = novu.integrations.set_as_primary(integration_id=a.id).result
    assert_integration(pa)
    assert (pa.id, pa.primary, pa.active) == (a.id, True, True)
    assert novu.integrations.set_as_primary(integration_id=b.id).result.primary is True
    items = {i.id: i for i in novu.integrations.list().result}
    assert items[a.id].primary is False
    assert items[b.id].primary is True
    expect_error(models.APIError, 404, novu.integrations.set_as_primary, integration_id=UNKNOWN_OBJECT_ID)


@op("py", "integrations.list")
@pytest.mark.skipif(not ISOLATED_API_KEY, reason="HERALD_ISOLATED_API_KEY not set")
@pytest.mark.parametrize(
    "fields",
    [
        {"credentials": {"secure": "true"}},
        {"credentials": {"apiKey": True}},
        {"credentials": {"apiKey": None}},
        {"conditions": [{}]},
    ],
    ids=["credentials.secure-as-string", "credentials.apiKey-as-bool", "credentials.apiKey-null", "conditions-empty-object"],
)
def test_list_after_mistyped_fields(fields):
    """stays readable after another client stored mistyped credentials/conditions"""
    # novu (classic) sends credentials as given; it has no `conditions`, so that one goes raw.
    if "credentials" in fields:
        writer = IntegrationApi(BASE_URL, ISOLATED_API_KEY)
        try:
            created = writer.create(IntegrationDto("slack", "chat", False, credentials=fields["credentials"]), check=False)
        except requests.HTTPError as e:
            assert e.response.status_code == 400, e.response.text  # rejecting is fine
            return
        created_id, echoed = created._id, created.credentials
    else:
        status, body, text = raw(
            "POST", "/v1/integrations", {"providerId": "slack", "channel": "chat", **fields}, key=ISOLATED_API_KEY
        )
        if status >= 400:
            assert status == 400, text
            return
        created_id, echoed = body["data"]["_id"], body["data"].get("conditions")
    try:
        ids = [i.id for i in py_client(ISOLATED_API_KEY).integrations.list().result]
        assert created_id in ids
    except models.NovuError as e:
        pytest.fail(
            f"POST /v1/integrations accepted {fields} (201) and echoed {echoed}; novu-py "
            f"integrations.list() then raises {type(e).__name__} {e.status_code}: {str(e)[:400]}"
        )
    finally:
        raw("DELETE", f"/v1/integrations/{created_id}", key=ISOLATED_API_KEY)
