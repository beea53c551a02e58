"""HTTP client of chanx-api (standard library only).

Contract (docs/events.md): ``POST /api/broadcast``, ``/api/send``,
``/api/disconnect``, ``/api/batch``, ``/api/presence`` and ``/api/presence_stats`` with a JSON body and ``Authorization: apikey <key>``; 200 with
``{"gateways": n, "connections": m}`` (what the event reached), or an error status with
``{"error": {"code": ..., "message": ...}}``, raised here as :class:`ChanxAPIError`.

Events are ``{"action": ..., "payload": ...}`` dicts, or any object with ``model_dump()`` (a pydantic
model, as Chanx's event classes are). Delivery is best-effort, as in Channels and Chanx, and in order
per client and per target: one client's calls reach each target in the order they were made.

Threading: a :class:`ChanxClient` holds no connection between calls and may be shared by threads.
The async forms run the blocking call in the event loop's default executor.
"""

import asyncio
import json
import os
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8001"


class ChanxAPIError(Exception):
    """The API refused a call. ``status`` is the HTTP status (0: unreachable), ``code`` the error code
    ("unauthorized", "invalid_json", "invalid_group", "missing_target", "undeliverable_event",
    "body_too_large", "broker_unavailable", ...), ``message`` what was wrong."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _event(event):
    if hasattr(event, "model_dump"):  # pydantic v2 models (Chanx's BaseMessage)
        event = event.model_dump()
    if not isinstance(event, dict) or "action" not in event:
        raise TypeError('an event is {"action": ..., "payload": ...} (or a model with model_dump())')
    return {"action": event["action"], "payload": event.get("payload")}


def _groups(groups):
    if isinstance(groups, str):
        return [groups]
    groups = list(groups or [])
    if not groups:
        raise ValueError("broadcast_event needs at least one group")
    return groups


def _target(user_id=None, connection=None):
    if (user_id is None) == (connection is None):
        raise ValueError("give exactly one target: user_id or connection")
    return {"user_id": int(user_id)} if user_id is not None else {"connection": str(connection)}


def _presence_target(group=None, topic=None):
    if (group is None) == (topic is None):
        raise ValueError("give exactly one of group and topic")
    return {"group": group} if group is not None else {"topic": topic}


class ChanxClient:
    """A client of one chanx-api. ``url`` like ``http://127.0.0.1:8001``; ``api_key`` the deployment's
    ``CHANX_API_KEY``; ``timeout`` seconds per call."""

    def __init__(self, url=None, api_key=None, timeout=5.0):
        self.url = (url or os.environ.get("CHANX_API_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("CHANX_API_KEY", "")
        self.timeout = timeout

    def _post(self, method, body):
        data = json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/{method}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"apikey {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                error = json.loads(e.read()).get("error", {})
            except ValueError:
                error = {}
            raise ChanxAPIError(e.code, error.get("code", "http_error"), error.get("message", e.reason)) from None
        except (urllib.error.URLError, OSError) as e:
            raise ChanxAPIError(0, "unreachable", f"{self.url}: {e}") from None

    # Chanx's names, blocking forms.
    def broadcast_event_sync(self, event, groups):
        """Sends event to every member of groups (a name or a list). Returns {"gateways", "connections"}."""
        return self._post("broadcast", {"groups": _groups(groups), "event": _event(event)})

    def broadcast_topic_sync(self, topic, event, seq=None):
        """Chanx 2.10's Topic.broadcast: sends event to every subscriber of topic ("room:lobby"), on the
        multiplexed route and on the topic's own, as {"action", "payload", "version": 1, "topic", "seq"}.
        seq (an int) is optional, caller-assigned, for gap detection. The group is the topic's
        (safe_group_name(topic, namespace=<the topic's declared name>)), found by the server from the
        consumers' declarations. Returns {"gateways", "connections"}."""
        body = {"topic": topic, "event": _event(event)}
        if seq is not None:
            body["seq"] = int(seq)
        return self._post("broadcast", body)

    def send_event_sync(self, event, user_id=None, connection=None, topic=None):
        """Sends event to every connection of user_id (on every gateway), or to one connection id.
        topic (optional) is stamped on the event, as the topic's subscribers receive it."""
        body = {**_target(user_id, connection), "event": _event(event)}
        if topic is not None:
            body["topic"] = topic
        return self._post("send", body)

    def disconnect_user_sync(self, user_id=None, code=1000, connection=None):
        """Closes every connection of user_id (or one connection) with code (1000 or 3000-4999)."""
        return self._post("disconnect", {**_target(user_id, connection), "code": int(code)})

    def presence_sync(self, group=None, topic=None, limit=None, cursor=None):
        """Who is in a group (or a topic's group, ``topic="room:lobby"``) now, one page: ``{"group",
        "count": users in all, "next": cursor or None, "users": [{"user_id", "username", "connections":
        [{"connection", "gateway", "connected_since"}]}], "anonymous": n, "truncated": next is not None}``;
        one entry per user however many tabs, ordered by user id. ``limit``: users per page (1 to 1,000,
        the default); ``cursor``: the previous page's ``next`` (DRF's CursorPagination: users who join or
        leave between pages never make one repeat or skip another). :meth:`presence_users_sync` walks
        every page. A group without members raises :class:`ChanxAPIError` 404 ``group_not_found``; a
        topic no consumer declares, 400 ``unknown_topic``; a bad limit or cursor, 400 ``invalid_field``."""
        body = _presence_target(group, topic)
        if limit is not None:
            body["limit"] = limit
        if cursor is not None:
            body["cursor"] = cursor
        return self._post("presence", body)

    def presence_users_sync(self, group=None, topic=None, limit=None):
        """Every user present, page after page of :meth:`presence_sync` (a generator of its user entries)."""
        cursor = None
        while True:
            page = self.presence_sync(group, topic, limit=limit, cursor=cursor)
            yield from page["users"]
            cursor = page.get("next")
            if cursor is None:
                return

    def presence_stats_sync(self, group=None, topic=None):
        """Counts only: ``{"group", "users", "connections", "anonymous"}``; errors as :meth:`presence_sync`."""
        return self._post("presence_stats", _presence_target(group, topic))

    def batch_sync(self, commands):
        """Applies [{"method": "broadcast"|"send"|"disconnect", "params": {...}}, ...] in order, all or
        none checked first; returns the list of results."""
        return self._post("batch", {"commands": list(commands)})["results"]

    # Async forms.
    async def broadcast_event(self, event, groups):
        return await asyncio.get_running_loop().run_in_executor(None, self.broadcast_event_sync, event, groups)

    async def broadcast_topic(self, topic, event, seq=None):
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.broadcast_topic_sync(topic, event, seq=seq)
        )

    async def send_event(self, event, user_id=None, connection=None, topic=None):
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.send_event_sync(event, user_id=user_id, connection=connection, topic=topic)
        )

    async def disconnect_user(self, user_id=None, code=1000, connection=None):
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.disconnect_user_sync(user_id, code=code, connection=connection)
        )

    async def batch(self, commands):
        return await asyncio.get_running_loop().run_in_executor(None, self.batch_sync, commands)

    async def presence(self, group=None, topic=None, limit=None, cursor=None):
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.presence_sync(group, topic, limit=limit, cursor=cursor)
        )

    async def presence_stats(self, group=None, topic=None):
        return await asyncio.get_running_loop().run_in_executor(None, lambda: self.presence_stats_sync(group, topic))


_default = None


def default_client():
    """The client the module-level functions use, configured from CHANX_API_URL / CHANX_API_KEY."""
    global _default
    if _default is None:
        _default = ChanxClient()
    return _default


def broadcast_event_sync(event, groups):
    return default_client().broadcast_event_sync(event, groups)


def broadcast_topic_sync(topic, event, seq=None):
    return default_client().broadcast_topic_sync(topic, event, seq=seq)


def send_event_sync(event, user_id=None, connection=None, topic=None):
    return default_client().send_event_sync(event, user_id=user_id, connection=connection, topic=topic)


def disconnect_user_sync(user_id=None, code=1000, connection=None):
    return default_client().disconnect_user_sync(user_id, code=code, connection=connection)


def batch_sync(commands):
    return default_client().batch_sync(commands)


async def broadcast_event(event, groups):
    return await default_client().broadcast_event(event, groups)


async def broadcast_topic(topic, event, seq=None):
    return await default_client().broadcast_topic(topic, event, seq=seq)


async def send_event(event, user_id=None, connection=None, topic=None):
    return await default_client().send_event(event, user_id=user_id, connection=connection, topic=topic)


async def disconnect_user(user_id=None, code=1000, connection=None):
    return await default_client().disconnect_user(user_id, code=code, connection=connection)


async def batch(commands):
    return await default_client().batch(commands)


def presence_sync(group=None, topic=None, limit=None, cursor=None):
    return default_client().presence_sync(group, topic, limit=limit, cursor=cursor)


def presence_users_sync(group=None, topic=None, limit=None):
    return default_client().presence_users_sync(group, topic, limit=limit)


def presence_stats_sync(group=None, topic=None):
    return default_client().presence_stats_sync(group, topic)


async def presence(group=None, topic=None, limit=None, cursor=None):
    return await default_client().presence(group, topic, limit=limit, cursor=cursor)


async def presence_stats(group=None, topic=None):
    return await default_client().presence_stats(group, topic)
