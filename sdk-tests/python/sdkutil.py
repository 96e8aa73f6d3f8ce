"""Shared helpers for the Python SDK suites: clients for a running Herald, unique names, the
topics gate, raw setup requests.

The server comes from the environment (run.sh sets both):
  HERALD_URL      base URL, e.g. http://127.0.0.1:40123 (no trailing slash)
  HERALD_API_KEY  a Development API key of that server
"""

import functools
import os
import re
import secrets
import time

import pytest
import requests
from novu_py import Novu
from novu_py.utils import RetryConfig

BASE_URL = os.environ.get("HERALD_URL", "").rstrip("/")
API_KEY = os.environ.get("HERALD_API_KEY", "")
ISOLATED_API_KEY = os.environ.get("HERALD_ISOLATED_API_KEY", "")
if not BASE_URL or not API_KEY:
    raise RuntimeError("HERALD_URL and HERALD_API_KEY must be set (sdk-tests/run.sh sets them)")

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UNKNOWN_OBJECT_ID = "0123456789abcdef01234567"

op = pytest.mark.op
topics = pytest.mark.topics


def py_client(key=API_KEY):
    """novu-py with retries off, so a wrong status fails at once instead of retrying for an hour."""
    return Novu(
        secret_key=key,
        server_url=BASE_URL,
        retry_config=RetryConfig("none", None, False),
        timeout_ms=10_000,
    )


def uid(prefix):
    """A name no other test (or earlier run against the same database) uses."""
    return f"{prefix}-{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


def raw(method, path, body=None, key=API_KEY):
    """A raw request to Herald (outside any SDK), for probes and test setup."""
    res = requests.request(
        method,
        f"{BASE_URL}{path}",
        json=body,
        headers={"Authorization": f"ApiKey {key}"},
        timeout=10,
    )
    try:
        data = res.json()
    except ValueError:
        data = None
    return res.status_code, data, res.text


@functools.lru_cache(maxsize=None)
def topics_missing():
    """Topics, `GET /v2/subscribers` and `GET /v2/subscribers/{id}/subscriptions` arrive together.
    A skip reason while the server answers Nest's `404 Cannot GET /v2/topics`, else None."""
    status, body, _ = raw("GET", "/v2/topics?limit=1")
    if status == 404 and isinstance(body, dict) and body.get("message") == "Cannot GET /v2/topics":
        return "server does not serve topics yet (404 Cannot GET /v2/topics)"
    return None


def setup_integration(provider_id, channel, **extra):
    """An active integration created through a raw request (test setup, not under test)."""
    identifier = uid(f"{provider_id}-setup")
    body = {"providerId": provider_id, "channel": channel, "identifier": identifier, "name": identifier, "active": True}
    body.update(extra)
    status, data, text = raw("POST", "/v1/integrations", body)
    assert status == 201, f"setup: create integration: {status} {text}"
    return data["data"]


def setup_subscriber(prefix, **extra):
    """A subscriber created through a raw request (test setup)."""
    subscriber_id = uid(prefix)
    status, _, text = raw("POST", "/v1/subscribers", {"subscriberId": subscriber_id, **extra})
    assert status == 201, f"setup: create subscriber: {status} {text}"
    return subscriber_id


def assert_py_subscriber(s, subscriber_id):
    """The fields every novu-py SubscriberResponseDto must carry."""
    assert s.subscriber_id == subscriber_id
    assert OBJECT_ID.match(s.id), s.id
    assert OBJECT_ID.match(s.organization_id)
    assert OBJECT_ID.match(s.environment_id)
    assert s.deleted is False
    assert ISO_DATE.match(s.created_at), s.created_at
    assert ISO_DATE.match(s.updated_at), s.updated_at


def expect_error(cls, status, fn, *args, **kwargs):
    """Calls fn, which must raise `cls` with `status_code == status`; returns the error."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    err = info.value
    assert isinstance(err, cls), (
        f"expected {cls.__name__} {status}, got {type(err).__name__} "
        f"{getattr(err, 'status_code', '')}: {str(err)[:500]}"
    )
    assert err.status_code == status, f"{cls.__name__} status_code {err.status_code}: {str(err)[:300]}"
    return err


def expect_http_error(status, fn, *args, **kwargs):
    """Calls fn (the classic `novu` SDK), which must raise requests.HTTPError with `status`."""
    with pytest.raises(requests.HTTPError) as info:
        fn(*args, **kwargs)
    res = info.value.response
    assert res.status_code == status, f"HTTP {res.status_code}: {res.text[:300]}"
    body = res.json()
    assert body["statusCode"] == status
    assert ISO_DATE.match(body["timestamp"])
    assert isinstance(body["path"], str)
    return body
