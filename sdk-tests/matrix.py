#!/usr/bin/env python3
"""Prints the SDK x operation compatibility matrix from one run's reports.

Usage: matrix.py DIR   (DIR holds node.xml, the Node test runner's JUnit report, and
python.jsonl, written by python/conftest.py). Test names are "sdk | method | what"; OPERATIONS
maps each SDK's method to the operation (row) it performs.
A cell is `pass N` when all N tests of that operation passed, `FAIL f/N` when f failed, and
`skip` when all were skipped; `-` means the SDK has no such test.
"""

import html
import json
import os
import sys
import xml.etree.ElementTree as ET

SDKS = [
    ("api", "@novu/api 3.19.1"),
    ("node", "@novu/node 2.6.6"),
    ("py", "novu-py 3.19.0"),
    ("pyc", "novu 1.14.0"),
]


# Each SDK's method -> the operation it performs (one matrix row per operation).
OPERATIONS = [
    ("subscriber create / upsert", {"api": "subscribers.create", "py": "subscribers.create", "node": "subscribers.identify", "pyc": "SubscriberApi.create"}),
    ("subscriber get", {"api": "subscribers.retrieve", "py": "subscribers.retrieve", "node": "subscribers.get", "pyc": "SubscriberApi.get"}),
    ("subscriber update", {"api": "subscribers.patch", "py": "subscribers.patch", "node": "subscribers.update", "pyc": "SubscriberApi.put"}),
    ("subscriber delete", {"api": "subscribers.delete", "py": "subscribers.delete", "node": "subscribers.delete", "pyc": "SubscriberApi.delete"}),
    ("subscribers bulk create", {"api": "subscribers.createBulk", "py": "subscribers.create_bulk", "node": "subscribers.bulkCreate", "pyc": "SubscriberApi.bulk_create"}),
    ("subscribers list (v1)", {"node": "subscribers.list", "pyc": "SubscriberApi.list"}),
    ("subscribers search (v2)", {"api": "subscribers.search", "py": "subscribers.search"}),
    ("credentials PUT (replace)", {"api": "subscribers.credentials.update", "py": "subscribers.credentials.update", "node": ["subscribers.setCredentials", "subscribers.unsetCredentials"], "pyc": "SubscriberApi.credentials"}),
    ("credentials PATCH (append)", {"api": "subscribers.credentials.append", "py": "subscribers.credentials.append"}),
    ("credentials DELETE", {"api": "subscribers.credentials.delete", "py": "subscribers.credentials.delete", "node": "subscribers.deleteCredentials", "pyc": "SubscriberApi.delete_credentials"}),
    ("online status", {"api": "subscribers.properties.updateOnlineFlag", "py": "subscribers.properties.update_online_flag", "node": "subscribers.updateOnlineStatus", "pyc": "SubscriberApi.online_status"}),
    ("integration create", {"api": "integrations.create", "py": "integrations.create", "node": "integrations.create", "pyc": "IntegrationApi.create"}),
    ("integrations list", {"api": "integrations.list", "py": "integrations.list", "node": "integrations.getAll", "pyc": "IntegrationApi.list"}),
    ("integrations list active", {"api": "integrations.listActive", "py": "integrations.list_active", "node": "integrations.getActive"}),
    ("integration update", {"api": "integrations.update", "py": "integrations.update", "node": "integrations.update", "pyc": "IntegrationApi.update"}),
    ("integration delete", {"api": "integrations.delete", "py": "integrations.delete", "node": "integrations.delete", "pyc": "IntegrationApi.delete"}),
    ("integration set primary", {"api": "integrations.setAsPrimary", "py": "integrations.set_as_primary", "node": "integrations.setIntegrationAsPrimary", "pyc": "IntegrationApi.set_primary"}),
    ("topic create", {"api": "topics.create", "py": "topics.create", "node": "topics.create", "pyc": "TopicApi.create"}),
    ("topic get", {"api": "topics.get", "py": "topics.get", "node": "topics.get", "pyc": "TopicApi.get"}),
    ("topics list", {"api": "topics.list", "py": "topics.list", "node": "topics.list", "pyc": "TopicApi.list"}),
    ("topic update / rename", {"api": "topics.update", "py": "topics.update", "node": "topics.rename", "pyc": "TopicApi.rename"}),
    ("topic delete", {"api": "topics.delete", "py": "topics.delete", "node": "topics.delete", "pyc": "TopicApi.delete"}),
    ("topic add subscribers", {"api": "topics.subscriptions.create", "py": "topics.subscriptions.create", "node": "topics.addSubscribers", "pyc": "TopicApi.subscribe"}),
    ("topic remove subscribers", {"api": "topics.subscriptions.delete", "py": "topics.subscriptions.delete", "node": "topics.removeSubscribers", "pyc": "TopicApi.unsubscribe"}),
    ("topic subscriptions list", {"api": "topics.subscriptions.list", "py": "topics.subscriptions.list"}),
    ("topic subscription get", {"api": "topics.subscriptions.getSubscription", "py": "topics.subscriptions.get_subscription"}),
    ("topic membership check (v1)", {"api": "topics.subscribers.retrieve", "py": "topics.subscribers.retrieve", "node": "topics.getSubscriber", "pyc": "TopicApi.subscribed"}),
    ("subscriber's topics", {"api": "subscribers.topics.list", "py": "subscribers.topics.list"}),
    ("notification groups list", {"node": "notificationGroups.get", "pyc": "NotificationGroupApi.list"}),
    ("notification group create", {"node": "notificationGroups.create", "pyc": "NotificationGroupApi.create"}),
    ("workflow create", {"api": "workflows.create", "py": "workflows.create", "node": "notificationTemplates.create", "pyc": "NotificationTemplateApi.create"}),
    ("workflow get", {"api": "workflows.get", "py": "workflows.get", "node": "notificationTemplates.getOne", "pyc": "NotificationTemplateApi.get"}),
    ("workflows list", {"api": "workflows.list", "py": "workflows.list", "node": "notificationTemplates.getAll", "pyc": "NotificationTemplateApi.list"}),
    ("workflow update", {"api": "workflows.update", "py": "workflows.update", "node": "notificationTemplates.update", "pyc": "NotificationTemplateApi.update"}),
    ("workflow patch / status", {"api": "workflows.patch", "py": "workflows.patch", "node": "notificationTemplates.updateStatus", "pyc": "NotificationTemplateApi.update_status"}),
    ("workflow delete", {"api": "workflows.delete", "py": "workflows.delete", "node": "notificationTemplates.delete", "pyc": "NotificationTemplateApi.delete"}),
    ("workflow sync", {"api": "workflows.sync", "py": "workflows.sync"}),
    ("event trigger", {"api": "trigger", "py": "trigger", "node": "trigger", "pyc": ["EventApi.trigger", "EventApi.trigger_topic"]}),
    ("event bulk trigger", {"api": "triggerBulk", "py": "trigger_bulk", "node": "bulkTrigger", "pyc": "EventApi.trigger_bulk"}),
    ("event broadcast", {"api": "triggerBroadcast", "py": "trigger_broadcast", "node": "broadcast", "pyc": "EventApi.broadcast"}),
    ("event cancel", {"api": "cancel", "py": "cancel", "node": "events.cancel", "pyc": "EventApi.delete"}),
    ("messages list", {"api": "messages.retrieve", "py": "messages.retrieve", "node": "messages.list", "pyc": "MessageApi.list"}),
    ("message delete", {"api": "messages.delete", "py": "messages.delete", "node": "messages.deleteById", "pyc": "MessageApi.delete"}),
    ("delete by transactionId", {"api": "messages.deleteByTransactionId", "py": "messages.delete_by_transaction_id", "node": "messages.deleteByTransactionId"}),
    ("activity feed list", {"api": "notifications.list", "py": "notifications.list", "pyc": "NotificationApi.list"}),
    ("activity feed get", {"api": "notifications.retrieve", "py": "notifications.retrieve", "pyc": "NotificationApi.get"}),
    ("execution details", {"node": "executionDetails.get", "pyc": "ExecutionDetailApi.list"}),
]
OPERATION_OF = {}
for _row, _methods in OPERATIONS:
    for _sdk, _m in _methods.items():
        for _name in _m if isinstance(_m, list) else [_m]:
            OPERATION_OF[(_sdk, _name)] = _row


def node_results(path):
    if not os.path.exists(path):
        return []
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        out.append((html.unescape(case.get("name", "")), outcome))
    return out


def python_results(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append((r["name"], r["outcome"]))
    return out


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "."
    results = node_results(os.path.join(base, "node.xml")) + python_results(os.path.join(base, "python.jsonl"))
    cells = {}  # (op, sdk) -> [passed, failed, skipped]
    for name, outcome in results:
        parts = [p.strip() for p in name.split("|")]
        if len(parts) < 3:
            continue
        sdk, op = parts[0], OPERATION_OF.get((parts[0], parts[1]), parts[1])
        c = cells.setdefault((op, sdk), [0, 0, 0])
        c[{"passed": 0, "failed": 1, "skipped": 2}[outcome]] += 1
    if not cells:
        print("sdk-tests: no results to tabulate")
        return
    order = [row for row, _ in OPERATIONS]
    ops = order + sorted({op for op, _ in cells} - set(order))
    header = ["operation"] + [label for _, label in SDKS]
    rows = []
    for op in ops:
        if not any((op, sdk) in cells for sdk, _ in SDKS):
            continue
        row = [op]
        for sdk, _ in SDKS:
            c = cells.get((op, sdk))
            if c is None:
                row.append("-")
            elif c[1]:
                row.append(f"FAIL {c[1]}/{sum(c)}")
            elif c[0]:
                row.append(f"pass {c[0]}" + (f" (+{c[2]} skip)" if c[2] else ""))
            else:
                row.append(f"skip {c[2]}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |"
    print()
    print("SDK compatibility matrix (tests per operation)")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    totals = {}
    for (op, sdk), c in cells.items():
        t = totals.setdefault(sdk, [0, 0, 0])
        for i in range(3):
            t[i] += c[i]
    print()
    for sdk, label in SDKS:
        if sdk in totals:
            p, f, s = totals[sdk]
            print(f"  {label:18} {p} passed, {f} failed, {s} skipped")
    failed = [name for name, outcome in results if outcome == "failed"]
    if failed:
        print()
        print("Failed:")
        for name in failed:
            print(f"  {name}")


if __name__ == "__main__":
    main()
