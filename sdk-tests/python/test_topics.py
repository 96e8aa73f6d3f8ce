"""Topics through novu-py 3.19.0 (v2 topics, subscriptions, v1 membership, subscriber search and
a subscriber's subscriptions) and novu 1.14.0 (TopicApi, v1). Skipped while the server answers
`404 Cannot GET /v2/topics`; once topics are served every test here must pass."""

from novu.api import SubscriberApi, TopicApi
from novu.dto.subscriber import SubscriberDto
from novu.dto.topic import PaginatedTopicDto, TopicDto
from novu_py import models

from sdkutil import (
    API_KEY,
    BASE_URL,
    OBJECT_ID,
    expect_error,
    expect_http_error,
    op,
    py_client,
    topics,
    uid,
)

pytestmark = topics

novu = py_client()
topic_api = TopicApi(BASE_URL, API_KEY)
slash_topic_api = TopicApi(f"{BASE_URL}/", API_KEY)
subscriber_api = SubscriberApi(BASE_URL, API_KEY)


def new_subscribers(prefix, n):
    ids = []
    for i in range(n):
        subscriber_id = uid(f"{prefix}{i}")
        novu.subscribers.create(
            create_subscriber_request_dto={"subscriber_id": subscriber_id, "first_name": f"T{i}", "email": f"t{i}@example.com"}
        )
        ids.append(subscriber_id)
    return ids


def assert_cursor_list(r):
    assert isinstance(r.data, list)
    assert r.next is None or isinstance(r.next, str)
    assert r.previous is None or isinstance(r.previous, str)
    assert isinstance(r.total_count, (int, float))
    assert isinstance(r.total_count_capped, bool)


# --- novu-py ---------------------------------------------------------------------------------


@op("py", "topics.create")
def test_py_topic_create():
    """new topic with key and name; again upserts; fail_if_exists gives TopicResponseDtoError 409"""
    key = uid("py-topic")
    t = novu.topics.create(create_update_topic_request_dto={"key": key, "name": "News"}).result
    assert OBJECT_ID.match(t.id)
    assert (t.key, t.name) == (key, "News")
    again = novu.topics.create(create_update_topic_request_dto={"key": key, "name": "Renamed"}).result
    assert again.id == t.id and again.name == "Renamed"
    err = expect_error(
        models.TopicResponseDtoError,
        409,
        novu.topics.create,
        create_update_topic_request_dto={"key": key, "name": "x"},
        fail_if_exists=True,
    )
    assert err.data.key == key
    assert err.data.id == t.id


@op("py", "topics.get")
def test_py_topic_get():
    """returns the topic; unknown key ErrorDto 404"""
    key = uid("py-topic-get")
    created = novu.topics.create(create_update_topic_request_dto={"key": key, "name": "Get"}).result
    t = novu.topics.get(topic_key=key).result
    assert (t.id, t.key, t.name) == (created.id, key, "Get")
    expect_error(models.ErrorDto, 404, novu.topics.get, topic_key=uid("py-topic-missing"))


@op("py", "topics.list")
def test_py_topic_list():
    """key filter; limit (sent as 10.0-style floats) and after cursor"""
    key = uid("py-topic-list")
    novu.topics.create(create_update_topic_request_dto={"key": key, "name": "L"})
    novu.topics.create(create_update_topic_request_dto={"key": uid("py-topic-list2"), "name": "L2"})
    one = novu.topics.list(request={"key": key}).result
    assert_cursor_list(one)
    assert [t.key for t in one.data] == [key]
    p1 = novu.topics.list(request={"limit": 1}).result
    assert len(p1.data) == 1 and isinstance(p1.next, str)
    p2 = novu.topics.list(request={"limit": 1, "after": p1.next}).result
    assert len(p2.data) == 1 and p2.data[0].key != p1.data[0].key


@op("py", "topics.update")
def test_py_topic_update():
    """new name; unknown key ErrorDto 404"""
    key = uid("py-topic-upd")
    novu.topics.create(create_update_topic_request_dto={"key": key, "name": "Old"})
    t = novu.topics.update(topic_key=key, update_topic_request_dto={"name": "New"}).result
    assert (t.key, t.name) == (key, "New")
    expect_error(
        models.ErrorDto, 404, novu.topics.update, topic_key=uid("py-topic-upd-missing"), update_topic_request_dto={"name": "x"}
    )


@op("py", "topics.delete")
def test_py_topic_delete():
    """acknowledged; then get is 404"""
    key = uid("py-topic-del")
    novu.topics.create(create_update_topic_request_dto={"key": key, "name": "Del"})
    assert novu.topics.delete(topic_key=key).result.acknowledged is True
    expect_error(models.ErrorDto, 404, novu.topics.get, topic_key=key)


@op("py", "topics.subscriptions.create")
def test_py_subscriptions_create():
    """201 with data and meta; unknown subscriber counted as failed"""
    key = uid("py-tsub")
    ids = new_subscribers("py-tsub", 2)
    missing = uid("py-tsub-missing")
    r = novu.topics.subscriptions.create(
        topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": ids + [missing]}
    ).result
    assert (r.meta.total_count, r.meta.successful, r.meta.failed) == (3, 2, 1)
    assert sorted(d.subscriber.subscriber_id for d in r.data) == sorted(ids)
    assert all(d.topic.key == key for d in r.data)
    assert [e.subscriber_id for e in (r.errors or [])] == [missing]


@op("py", "topics.subscriptions.create")
def test_py_subscriptions_create_identifier():
    """a subscription's own identifier is kept and found by get_subscription"""
    key = uid("py-tsub-ident")
    [s] = new_subscribers("py-tsub-ident", 1)
    identifier = uid("my-subscription")
    r = novu.topics.subscriptions.create(
        topic_key=key,
        create_topic_subscriptions_request_dto={"subscriptions": [{"identifier": identifier, "subscriber_id": s}]},
    ).result
    assert r.meta.successful == 1
    assert r.data[0].identifier == identifier, "response carries the requested identifier"
    assert novu.topics.subscriptions.get_subscription(topic_key=key, identifier=identifier).result.identifier == identifier


@op("py", "topics.subscriptions.list")
def test_py_subscriptions_list():
    """items with identifier; subscriber_id filter"""
    key = uid("py-tlist")
    ids = new_subscribers("py-tlist", 2)
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": ids})
    r = novu.topics.subscriptions.list(request={"topic_key": key}).result
    assert_cursor_list(r)
    assert sorted(d.subscriber.subscriber_id for d in r.data) == sorted(ids)
    assert all(isinstance(d.identifier, str) for d in r.data)
    one = novu.topics.subscriptions.list(request={"topic_key": key, "subscriber_id": ids[0]}).result
    assert [d.subscriber.subscriber_id for d in one.data] == [ids[0]]


@op("py", "topics.subscriptions.get_subscription")
def test_py_get_subscription():
    """by identifier from the list; unknown ErrorDto 404"""
    key = uid("py-tget")
    [s] = new_subscribers("py-tget", 1)
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": [s]})
    listed = novu.topics.subscriptions.list(request={"topic_key": key}).result.data[0]
    r = novu.topics.subscriptions.get_subscription(topic_key=key, identifier=listed.identifier).result
    assert r.id == listed.id
    expect_error(models.ErrorDto, 404, novu.topics.subscriptions.get_subscription, topic_key=key, identifier=uid("nobody"))


@op("py", "topics.subscriptions.delete")
def test_py_subscriptions_delete():
    """DELETE with a JSON body removes them"""
    key = uid("py-tdel")
    ids = new_subscribers("py-tdel", 2)
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": ids})
    r = novu.topics.subscriptions.delete(
        topic_key=key, delete_topic_subscriptions_request_dto={"subscriber_ids": [ids[0]]}
    ).result
    assert r.meta.successful == 1
    left = novu.topics.subscriptions.list(request={"topic_key": key}).result
    assert [d.subscriber.subscriber_id for d in left.data] == [ids[1]]


@op("py", "topics.subscribers.retrieve")
def test_py_membership():
    """v1 membership: TopicSubscriberDto; non-member ErrorDto 404"""
    key = uid("py-tmember")
    member, other = new_subscribers("py-tmember", 2)
    novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": [member]})
    r = novu.topics.subscribers.retrieve(external_subscriber_id=member, topic_key=key).result
    assert (r.topic_key, r.external_subscriber_id) == (key, member)
    assert r.topic_id == novu.topics.get(topic_key=key).result.id
    assert r.subscriber_id == novu.subscribers.retrieve(subscriber_id=member).result.id
    expect_error(models.ErrorDto, 404, novu.topics.subscribers.retrieve, external_subscriber_id=other, topic_key=key)


@op("py", "subscribers.search")
def test_py_search():
    """by subscriber_id and email; limit sent as a float"""
    subscriber_id = uid("py-search")
    email = f"{subscriber_id}@example.com".lower()
    novu.subscribers.create(create_subscriber_request_dto={"subscriber_id": subscriber_id, "email": email})
    r = novu.subscribers.search(request={"subscriber_id": subscriber_id, "limit": 10}).result
    assert_cursor_list(r)
    assert [s.subscriber_id for s in r.data] == [subscriber_id]
    assert [s.subscriber_id for s in novu.subscribers.search(request={"email": email}).result.data] == [subscriber_id]
    page = novu.subscribers.search(request={"limit": 2}).result
    assert len(page.data) == 2 and isinstance(page.next, str)


@op("py", "subscribers.topics.list")
def test_py_subscriber_topics():
    """the subscriber's subscriptions; unknown subscriber ErrorDto 404"""
    [s] = new_subscribers("py-stopics", 1)
    keys = [uid("py-stopics-a"), uid("py-stopics-b")]
    for key in keys:
        novu.topics.subscriptions.create(topic_key=key, create_topic_subscriptions_request_dto={"subscriber_ids": [s]})
    r = novu.subscribers.topics.list(request={"subscriber_id": s}).result
    assert_cursor_list(r)
    assert sorted(d.topic.key for d in r.data) == sorted(keys)
    expect_error(models.ErrorDto, 404, novu.subscribers.topics.list, request={"subscriber_id": uid("py-stopics-missing")})


# --- novu (classic) --------------------------------------------------------------------------


def classic_subscribers(prefix, n):
    ids = [uid(f"{prefix}{i}") for i in range(n)]
    subscriber_api.bulk_create([SubscriberDto(i) for i in ids])
    return ids


@op("pyc", "TopicApi.create")
def test_pyc_create():
    """returns TopicDto with key (and _id)"""
    key = uid("pyc-topic")
    t = topic_api.create(key, "News")
    assert isinstance(t, TopicDto)
    assert t.key == key
    assert OBJECT_ID.match(t._id)


@op("pyc", "TopicApi.get")
def test_pyc_get():
    """key, name, subscribers; url ending in /; unknown HTTPError 404"""
    key = uid("pyc-topic-get")
    topic_api.create(key, "Get")
    ids = classic_subscribers("pyc-tget", 2)
    topic_api.subscribe(key, ids)
    t = slash_topic_api.get(key)
    assert (t.key, t.name) == (key, "Get")
    assert sorted(t.subscribers) == sorted(ids)
    expect_http_error(404, topic_api.get, uid("pyc-topic-missing"))


@op("pyc", "TopicApi.list")
def test_pyc_list():
    """key filter and limit (pyc sends limit, not pageSize)"""
    key = uid("pyc-topic-list")
    topic_api.create(key, "L")
    r = topic_api.list(key=key)
    assert isinstance(r, PaginatedTopicDto)
    assert [t.key for t in r.data] == [key]
    assert r.total_count == 1
    paged = topic_api.list(page=0, limit=2)
    assert paged.page_size == 2
    assert len(list(paged.data)) <= 2


@op("pyc", "TopicApi.subscribe")
def test_pyc_subscribe():
    """(succeeded, failed) with notFound"""
    key = uid("pyc-topic-sub")
    topic_api.create(key, "S")
    ids = classic_subscribers("pyc-tsub", 2)
    missing = uid("pyc-tsub-missing")
    succeeded, failed = topic_api.subscribe(key, ids + [missing])
    assert sorted(succeeded) == sorted(ids)
    assert failed.get("notFound") == [missing]


@op("pyc", "TopicApi.subscribed")
def test_pyc_subscribed():
    """True for a member, False (404) otherwise"""
    key = uid("pyc-topic-member")
    topic_api.create(key, "M")
    member, other = classic_subscribers("pyc-tmember", 2)
    topic_api.subscribe(key, member)
    assert topic_api.subscribed(key, member) is True
    assert topic_api.subscribed(key, other) is False


@op("pyc", "TopicApi.unsubscribe")
def test_pyc_unsubscribe():
    """member removed"""
    key = uid("pyc-topic-unsub")
    topic_api.create(key, "U")
    ids = classic_subscribers("pyc-tunsub", 2)
    topic_api.subscribe(key, ids)
    assert topic_api.unsubscribe(key, ids[0]) is None
    assert topic_api.subscribed(key, ids[0]) is False
    assert topic_api.get(key).subscribers == [ids[1]]


@op("pyc", "TopicApi.rename")
def test_pyc_rename():
    """returns the renamed topic"""
    key = uid("pyc-topic-ren")
    topic_api.create(key, "Old")
    t = topic_api.rename(key, "New")
    assert (t.key, t.name) == (key, "New")


@op("pyc", "TopicApi.delete")
def test_pyc_delete():
    """deleted when empty; 409 while it has subscribers"""
    key = uid("pyc-topic-del")
    topic_api.create(key, "D")
    [s] = classic_subscribers("pyc-tdel", 1)
    topic_api.subscribe(key, s)
    expect_http_error(409, topic_api.delete, key)
    topic_api.unsubscribe(key, s)
    assert topic_api.delete(key) is None
    expect_http_error(404, topic_api.get, key)

