"""Chanx in C from Python: publish events to WebSocket clients from Django views, tasks and scripts.

The names are Chanx's (``broadcast_event``, ``send_event`` and their ``_sync`` forms), so code written
for Chanx's consumer class methods reads the same:

    from chanx_client import broadcast_event_sync, send_event_sync, disconnect_user_sync

    broadcast_event_sync({"action": "new_comment", "payload": {"id": 3}}, groups="post_12")
    send_event_sync({"action": "order_shipped", "payload": {"order": 99}}, user_id=7)
    disconnect_user_sync(7, code=4001)
    broadcast_topic_sync("room:lobby", {"action": "announce", "payload": {"text": "hi"}})   # Topic.broadcast

They talk to ``chanx-api`` over HTTP with the standard library only; the address and key come from
``CHANX_API_URL`` (default ``http://127.0.0.1:8001``) and ``CHANX_API_KEY``, or from an explicit
:class:`ChanxClient`. Django Channels code keeps working unchanged through
:class:`chanx_client.layers.ChanxChannelLayer`. Tests and scripts talk to a consumer as a browser does
with :class:`chanx_client.websocket.WebSocketClient` (asyncio; needs python3-websockets, so it is
imported from its module only): topic handles, requests by ref, reconnection.
"""

from .client import (
    ChanxAPIError,
    ChanxClient,
    batch,
    batch_sync,
    broadcast_event,
    broadcast_event_sync,
    broadcast_topic,
    broadcast_topic_sync,
    default_client,
    disconnect_user,
    disconnect_user_sync,
    presence,
    presence_stats,
    presence_stats_sync,
    presence_sync,
    presence_users_sync,
    send_event,
    send_event_sync,
)

__all__ = [
    "ChanxAPIError",
    "ChanxClient",
    "batch",
    "batch_sync",
    "broadcast_event",
    "broadcast_event_sync",
    "broadcast_topic",
    "broadcast_topic_sync",
    "default_client",
    "disconnect_user",
    "disconnect_user_sync",
    "presence",
    "presence_stats",
    "presence_stats_sync",
    "presence_sync",
    "presence_users_sync",
    "send_event",
    "send_event_sync",
]
