"""Bodies over Herald's limit, sent with `requests` (what the classic `novu` SDK uses): every try
must read the 413 in Novu's format, never a ConnectionError (EPIPE / ECONNRESET), which clients
retry. Issue 12: 20 tries each at 3 MB and 10 MB. `requests` sends the whole body before reading
the answer, the case where a server that closes early resets the connection. Not an SDK
operation, so it stays out of the matrix (its names do not start with an SDK)."""

import collections
import json

import pytest
import requests

from sdkutil import API_KEY, BASE_URL, op

TRIES = 20


@op("requests", "POST /v1/subscribers")
@pytest.mark.parametrize("mb", [3, 10])
def test_a_body_over_the_limit_is_answered_413_every_time(mb):
    """a body over the limit is answered 413, 20 times in a row"""
    body = json.dumps({"subscriberId": "too-big", "data": "x" * (mb * 1_000_000)}).encode()
    headers = {"Authorization": f"ApiKey {API_KEY}", "Content-Type": "application/json"}
    outcomes = collections.Counter()
    for _ in range(TRIES):
        try:
            res = requests.post(f"{BASE_URL}/v1/subscribers", data=body, headers=headers, timeout=30)
            error = res.json()
            ok = res.status_code == 413 and error.get("statusCode") == 413 and error.get("message") == "request entity too large"
            outcomes["413" if ok else f"{res.status_code} {error}"] += 1
        except requests.RequestException as e:
            outcomes[f"error {type(e).__name__}: {e}"] += 1
    print(f"body-limit: requests, {mb} MB: {dict(outcomes)}")
    assert outcomes == {"413": TRIES}, dict(outcomes)
