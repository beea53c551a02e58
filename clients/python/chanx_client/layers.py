"""A Django Channels channel layer that publishes into Chanx in C.

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chanx_client.layers.ChanxChannelLayer",
            "CONFIG": {"url": "http://127.0.0.1:8001", "api_key": "..."},
        }
    }

Existing Django code then reaches Chanx in C's clients unchanged:

    async_to_sync(get_channel_layer().group_send)("chat_room_lobby", {"type": "notify", "payload": {"n": 1}})

Mapping: ``group_send(group, message)`` broadcasts the event ``{"action": message["type"], "payload": P}``
to the group, where P is ``message["payload"]`` when ``payload`` is the message's only other key, and
otherwise every key but ``type`` (``{"type": "chat.message", "text": "hi"}`` gives
``{"action": "chat.message", "payload": {"text": "hi"}}``). The type is the action as is: no
``.`` to ``_`` conversion, because the consumer's ``passthrough_events`` / ``.events`` name it.

Chanx 2.10's ``Topic.broadcast(topic, event, seq=...)`` sends ``{"type": "handle_topic_event", "topic":
T, "seq": S, "event_data": E}`` to the topic's group (``safe_group_name(T, namespace=ClassName)``); it
becomes a broadcast of E to that group, stamped with the topic (and seq), which is how the
subscribers of a C consumer's topic declared with the same name receive it.

Only publishing is supported: consumers run in Chanx in C, not in this Python process, so ``send``
(to a channel name), ``receive``, ``new_channel``, ``group_add``, ``group_discard`` and ``flush``
raise :class:`NotImplementedError` saying so. Group names are checked as Channels checks them.
"""

import asyncio

from channels.layers import BaseChannelLayer

from .client import ChanxClient

# chanx/core/envelope.py's TOPIC_EVENT_TYPE: what Topic.broadcast group_sends.
TOPIC_EVENT_TYPE = "handle_topic_event"

UNSUPPORTED = (
    "ChanxChannelLayer only publishes to groups (group_send): consumers run in Chanx in C, so {} "
    "is not available here. Send to a user or a connection with chanx_client.send_event."
)


class ChanxChannelLayer(BaseChannelLayer):
    extensions = ["groups"]

    def __init__(self, url=None, api_key=None, timeout=5.0, expiry=60, capacity=100, channel_capacity=None, **kwargs):
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.client = ChanxClient(url=url, api_key=api_key, timeout=timeout)

    @staticmethod
    def event_of(message):
        """The Chanx event a Channels message becomes (see the module's docstring)."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ValueError('a channel layer message is a dict with a "type" string')
        rest = {k: v for k, v in message.items() if k != "type"}
        payload = rest["payload"] if set(rest) == {"payload"} else (rest or None)
        return {"action": message["type"], "payload": payload}

    async def group_send(self, group, message):
        assert self.valid_group_name(group), "Group name not valid"
        if isinstance(message, dict) and message.get("type") == TOPIC_EVENT_TYPE:
            body = {"groups": [group], "topic": message["topic"], "event": message["event_data"]}
            if message.get("seq") is not None:
                body["seq"] = message["seq"]
            return await asyncio.get_running_loop().run_in_executor(None, self.client._post, "broadcast", body)
        return await self.client.broadcast_event(self.event_of(message), [group])

    async def send(self, channel, message):
        raise NotImplementedError(UNSUPPORTED.format("send() to a channel"))

    async def receive(self, channel):
        raise NotImplementedError(UNSUPPORTED.format("receive()"))

    async def new_channel(self, prefix="specific."):
        raise NotImplementedError(UNSUPPORTED.format("new_channel()"))

    async def group_add(self, group, channel):
        raise NotImplementedError(UNSUPPORTED.format("group_add()"))

    async def group_discard(self, group, channel):
        raise NotImplementedError(UNSUPPORTED.format("group_discard()"))

    async def flush(self):
        raise NotImplementedError(UNSUPPORTED.format("flush()"))
