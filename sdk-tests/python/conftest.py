"""Fixtures for the Python SDK suites and the per-test result log behind run.sh's matrix.

Every test carries `@op(sdk, operation)` ("py" = novu-py 3.19.0, "pyc" = novu 1.14.0); its
docstring is the "what" of the matrix row. Results go to $SDK_RESULTS_DIR/python.jsonl.
"""

import json
import os

import pytest

from sdkutil import BASE_URL, topics_missing


def pytest_configure(config):
    config.addinivalue_line("markers", "op(sdk, operation): the SDK and operation a test covers")
    config.addinivalue_line("markers", "topics: needs topics / subscriber search (skipped until served)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("op") is None:
            raise pytest.UsageError(f"{item.nodeid} has no @op(sdk, operation) marker")


@pytest.fixture(autouse=True)
def _topics_gate(request):
    if request.node.get_closest_marker("topics") is not None:
        reason = topics_missing()
        if reason:
            pytest.skip(reason)


def _name(item):
    m = item.get_closest_marker("op")
    sdk, operation = m.args
    what = (item.function.__doc__ or item.name).strip().splitlines()[0]
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        what += f" [{callspec.id}]"
    return f"{sdk} | {operation} | {what}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.matrix_name = _name(item)


_reported = {}


def pytest_runtest_logreport(report):
    name = getattr(report, "matrix_name", None)
    if name is None:
        return
    if report.when == "call" or report.outcome != "passed":
        if report.skipped:
            result = "skipped"
        elif report.failed:
            result = "failed"
        else:
            result = "passed"
        # a failure in setup/call/teardown wins over an earlier pass
        if _reported.get(report.nodeid) != "failed":
            _reported[report.nodeid] = result
            _names[report.nodeid] = name


_names = {}


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("SDK_RESULTS_DIR")
    if not out:
        return
    with open(os.path.join(out, "python.jsonl"), "w", encoding="utf-8") as f:
        for nodeid, outcome in _reported.items():
            f.write(json.dumps({"name": _names[nodeid], "outcome": outcome, "nodeid": nodeid}) + "\n")


def pytest_report_header(config):
    return f"Herald under test: {BASE_URL}"
