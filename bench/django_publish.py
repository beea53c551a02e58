"""The Django side of `chanx-bench publish --publisher`: reads one command per line on stdin,
{"groups": [G], "event": {"action": A, "payload": P}}, and does what a Django view or task does,
async_to_sync(channel_layer.group_send)(G, {"type": A, "payload": P}), in the Django Channels peer
(run from its folder, with its settings and channel layer, e.g. channels_redis)."""
import json
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402

group_send = async_to_sync(get_channel_layer().group_send)
for line in sys.stdin:
    command = json.loads(line)
    event = command["event"]
    for group in command["groups"]:
        group_send(group, {"type": event["action"], "payload": event.get("payload")})
