"""The providers' stand-in (sdk-tests/receiver.mjs, started by run.sh) as the Python event tests
see it: URLs on it, what it received, scripted answers, bounded waits, the push signature, and
the secret check. Every wait polls at a short interval up to an overall timeout and then fails
with what it last saw; none sleeps a fixed time.
"""

import hashlib
import hmac
import json
import os
import secrets as _secrets
import time
from urllib.parse import quote

import requests

RECEIVER_URL = os.environ.get("HERALD_RECEIVER_URL", "").rstrip("/")
if not RECEIVER_URL:
    raise RuntimeError("HERALD_RECEIVER_URL must be set (sdk-tests/run.sh starts the receiver and sets it)")


def rx_url(path):
    """The receiver's URL for `path` (a webhook URL Herald will post to)."""
    return f"{RECEIVER_URL}{path}"


def hexid():
    return _secrets.token_hex(8)


def _parsed(r):
    try:
        r["json"] = json.loads(r["body"])
    except ValueError:
        r["json"] = None
    return r


def received(path):
    """Requests received at exactly `path`, oldest first (each with `json`, the parsed body)."""
    res = requests.get(f"{RECEIVER_URL}/_rx/requests?path={quote(path, safe='')}", timeout=10)
    assert res.status_code == 200, res.text
    return [_parsed(r) for r in res.json()["data"]]


def received_under(prefix):
    """Requests received at every path under `prefix`, oldest first."""
    res = requests.get(f"{RECEIVER_URL}/_rx/requests?prefix={quote(prefix, safe='')}", timeout=10)
    assert res.status_code == 200, res.text
    return [_parsed(r) for r in res.json()["data"]]


def script(path, answers):
    """The next answers at `path`: [{status, body?, headers?}], used in order."""
    res = requests.post(f"{RECEIVER_URL}/_rx/script?path={quote(path, safe='')}", json=answers, timeout=10)
    assert res.status_code == 200, res.text


def wait_until(what, probe, done, timeout=20.0, interval=0.05):
    """Calls `probe()` every `interval` seconds until `done(value)`; returns that value. Fails
    after `timeout` seconds with `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if done(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {str(last)[:1500]}")
        time.sleep(interval)


def wait_for_requests(path, n, keep=lambda r: True):
    """Waits until `path` has received at least `n` requests matching `keep`; returns those."""
    return wait_until(f"{n} request(s) at {path}", lambda: [r for r in received(path) if keep(r)], lambda rs: len(rs) >= n)


def wait_for_requests_under(prefix, n, keep=lambda r: True):
    """Waits until `n` requests under `prefix` match `keep`; returns them."""
    return wait_until(
        f"{n} request(s) under {prefix}", lambda: [r for r in received_under(prefix) if keep(r)], lambda rs: len(rs) >= n
    )


def texts(requests_):
    return [r["json"]["text"] for r in requests_]


def push_for(token):
    return lambda r: (r["json"] or {}).get("target") == [token]


def signature(secret, body):
    """The push webhook's `X-Novu-Signature`: hex HMAC-SHA256 of the exact body."""
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def assert_no_secrets(text, secrets_, where):
    """`text` (a response body as the SDK received it) contains none of `secrets_`."""
    for s in secrets_:
        assert s not in text, f"{where} shows a secret ({s[:12]}…): {text[:800]}"
