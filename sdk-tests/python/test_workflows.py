"""Workflows through novu-py 3.19.0 (`/v2/workflows`: create, get, list, update, patch, delete,
sync) and novu 1.14.0 (`NotificationGroupApi`, `NotificationTemplateApi` on
`/v1/notification-templates`, whose steps it sends snake_case and null-filled). Both SDKs create
workflows inactive unless told otherwise."""

import re

import pytest
from novu.api import NotificationGroupApi, NotificationTemplateApi
from novu.dto.notification_template import NotificationStepDto, NotificationTemplateFormDto
from novu_py import models

from sdkutil import (
    API_KEY,
    BASE_URL,
    ISOLATED_API_KEY,
    OBJECT_ID,
    expect_error,
    expect_http_error,
    op,
    py_client,
    raw,
    uid,
)

novu = py_client()
group_api = NotificationGroupApi(BASE_URL, API_KEY)
template_api = NotificationTemplateApi(BASE_URL, API_KEY)
slash_template_api = NotificationTemplateApi(f"{BASE_URL}/", API_KEY)


def chat_and_push(workflow_id, **extra):
    body = {
        "name": "Order shipped",
        "workflow_id": workflow_id,
        "steps": [
            {"name": "Chat step", "type": "chat", "control_values": {"body": "Order {{payload.orderId}}"}},
            {"name": "Push step", "type": "push", "control_values": {"subject": "Shipped", "body": "{{payload.orderId}}"}},
        ],
    }
    body.update(extra)
    return body


# --- novu-py ---------------------------------------------------------------------------------


@op("py", "workflows.create")
def test_py_workflow_create():
    """201 with chat and push steps; INACTIVE by default; a taken workflow_id is ErrorDto 409"""
    workflow_id = uid("py-wf")
    w = novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id)).result
    assert OBJECT_ID.match(w.id)
    assert w.workflow_id == workflow_id
    assert w.status == "INACTIVE"
    assert w.origin == "novu-cloud"
    assert w.severity == "none"
    assert [s.type for s in w.steps] == ["chat", "push"]
    assert w.steps[0].step_id == "chat-step"
    assert w.steps[0].controls.values.body == "Order {{payload.orderId}}"
    assert w.steps[1].controls.values.subject == "Shipped"
    expect_error(models.ErrorDto, 409, novu.workflows.create, create_workflow_dto=chat_and_push(workflow_id))


@op("py", "workflows.create")
def test_py_workflow_create_unsupported_step():
    """an email step is ErrorDto 400"""
    body = {"name": "Mail", "workflow_id": uid("py-wf-email"), "steps": [{"name": "Mail", "type": "email", "control_values": {"subject": "s", "body": "b"}}]}
    expect_error(models.ErrorDto, 400, novu.workflows.create, create_workflow_dto=body)


@op("py", "workflows.get")
def test_py_workflow_get():
    """by workflow_id and _id; unknown is ErrorDto 404"""
    workflow_id = uid("py-wf-get")
    w = novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id)).result
    assert novu.workflows.get(workflow_id=workflow_id).result.id == w.id
    assert novu.workflows.get(workflow_id=w.id).result.workflow_id == workflow_id
    expect_error(models.ErrorDto, 404, novu.workflows.get, workflow_id=uid("py-wf-missing"))


@op("py", "workflows.list")
def test_py_workflow_list():
    """{workflows, total_count} filtered by tags and status"""
    tag = uid("py-tag")
    a, b = uid("py-wf-la"), uid("py-wf-lb")
    novu.workflows.create(create_workflow_dto=chat_and_push(a, tags=[tag]))
    novu.workflows.create(create_workflow_dto=chat_and_push(b, tags=[tag], active=True))
    r = novu.workflows.list(request={"tags": [tag], "limit": 10}).result
    assert r.total_count == 2
    assert sorted(w.workflow_id for w in r.workflows) == sorted([a, b])
    active = novu.workflows.list(request={"tags": [tag], "status": ["ACTIVE"]}).result
    assert [w.workflow_id for w in active.workflows] == [b]


@op("py", "workflows.update")
def test_py_workflow_update():
    """replaces the definition; a step sent with its _id keeps it"""
    workflow_id = uid("py-wf-upd")
    w = novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id)).result
    chat = w.steps[0]
    u = novu.workflows.update(
        workflow_id=workflow_id,
        update_workflow_dto={
            "name": "Renamed",
            "active": True,
            "preferences": {},
            "steps": [{"id": chat.id, "name": "Chat step", "type": "chat", "control_values": {"body": "Changed"}}],
        },
    ).result
    assert (u.id, u.name, u.status) == (w.id, "Renamed", "ACTIVE")
    assert [s.id for s in u.steps] == [chat.id]
    assert u.steps[0].controls.values.body == "Changed"


@op("py", "workflows.patch")
def test_py_workflow_patch():
    """active: True activates; other fields kept"""
    workflow_id = uid("py-wf-patch")
    w = novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id, description="d")).result
    p = novu.workflows.patch(workflow_id=workflow_id, patch_workflow_dto={"active": True}).result
    assert p.status == "ACTIVE"
    assert p.description == "d"
    assert len(p.steps) == len(w.steps)


@op("py", "workflows.delete")
def test_py_workflow_delete():
    """204; then get is ErrorDto 404"""
    workflow_id = uid("py-wf-del")
    novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id))
    novu.workflows.delete(workflow_id=workflow_id)
    expect_error(models.ErrorDto, 404, novu.workflows.get, workflow_id=workflow_id)


@op("py", "workflows.sync")
def test_py_workflow_sync():
    """copies into another environment of the organization"""
    if not ISOLATED_API_KEY:
        pytest.skip("no key of a second environment (HERALD_ISOLATED_API_KEY)")
    _, groups, _ = raw("GET", "/v1/notification-groups", key=ISOLATED_API_KEY)
    target = groups["data"][0]["_environmentId"]
    workflow_id = uid("py-wf-sync")
    w = novu.workflows.create(create_workflow_dto=chat_and_push(workflow_id, active=True)).result
    copy = novu.workflows.sync(workflow_id=workflow_id, sync_workflow_dto={"target_environment_id": target}).result
    assert copy.id != w.id
    assert (copy.workflow_id, copy.status) == (workflow_id, "ACTIVE")
    other = py_client(ISOLATED_API_KEY)
    assert other.workflows.get(workflow_id=workflow_id).result.id == copy.id
    other.workflows.delete(workflow_id=workflow_id)


# --- novu (classic) --------------------------------------------------------------------------


def general_group_id():
    groups = group_api.list()
    general = [g for g in groups.data if g.name == "General"]
    assert general, groups
    return general[0]._id


def form(group_id, name, **extra):
    return NotificationTemplateFormDto(
        name=name,
        notification_group_id=group_id,
        steps=[
            NotificationStepDto(active=True, template={"type": "chat", "content": "Order {{orderId}}"}),
            NotificationStepDto(active=True, template={"type": "push", "title": "Shipped", "content": "{{orderId}}"}),
        ],
        **extra,
    )


@op("pyc", "NotificationGroupApi.list")
def test_pyc_groups_list():
    """every environment has General"""
    general = general_group_id()
    assert OBJECT_ID.match(general)


@op("pyc", "NotificationGroupApi.create")
def test_pyc_groups_create():
    """creates a group; the same name again answers it"""
    name = uid("pyc-group")
    g = group_api.create(name)
    assert (g.name, bool(OBJECT_ID.match(g._id))) == (name, True)
    assert group_api.create(name)._id == g._id


@op("pyc", "NotificationTemplateApi.create")
def test_pyc_template_create():
    """snake_case null-filled steps read; identifier = slug of the name; active as given"""
    suffix = re.sub(r"[^a-z0-9]", "", uid("x"))
    w = template_api.create(form(general_group_id(), f"Password Reset {suffix}", active=True))
    assert OBJECT_ID.match(w._id)
    assert w.triggers[0].identifier == f"password-reset-{suffix}"
    assert w.active is True
    assert [s.template["type"] for s in w.steps] == ["chat", "push"]
    inactive = template_api.create(form(general_group_id(), f"Inactive {suffix}"))
    assert inactive.active is False


@op("pyc", "NotificationTemplateApi.list")
def test_pyc_template_list():
    """{page, total_count, page_size, data}"""
    w = template_api.create(form(general_group_id(), uid("Pyc list")))
    page = template_api.list(page=0, limit=100)
    assert page.page == 0 and page.page_size == 100
    assert any(x._id == w._id for x in page.data)


@op("pyc", "NotificationTemplateApi.get")
def test_pyc_template_get():
    """by _id; unknown is HTTPError 404"""
    w = template_api.create(form(general_group_id(), uid("Pyc get")))
    got = slash_template_api.get(w._id)
    assert (got._id, got.name) == (w._id, w.name)
    expect_http_error(404, template_api.get, uid("pyc-missing"))


@op("pyc", "NotificationTemplateApi.update")
def test_pyc_template_update():
    """the SDK's null-filled form replaces name, tags and steps"""
    w = template_api.create(form(general_group_id(), uid("Pyc update")))
    u = template_api.update(w._id, form(general_group_id(), "Renamed", tags=["t"]))
    assert (u._id, u.name, u.tags) == (w._id, "Renamed", ["t"])
    assert u.triggers[0].identifier == w.triggers[0].identifier
    assert len(u.steps) == 2


@op("pyc", "NotificationTemplateApi.update_status")
def test_pyc_template_update_status():
    """activates; the same status again is HTTPError 400"""
    w = template_api.create(form(general_group_id(), uid("Pyc status")))
    assert template_api.update_status(w._id, True).active is True
    expect_http_error(400, template_api.update_status, w._id, True)


@op("pyc", "NotificationTemplateApi.delete")
def test_pyc_template_delete():
    """deleted; then get is HTTPError 404"""
    w = template_api.create(form(general_group_id(), uid("Pyc delete")))
    template_api.delete(w._id)
    expect_http_error(404, template_api.get, w._id)
