"""A generic HTTP receiver that checks Standard Webhooks signatures."""

from __future__ import annotations

import json
import time

from aiohttp import web

from common.errors import InvalidSignature
from common.signing import verify
from tests.emulators.faults import Emulator, control_routes


class Receiver(Emulator):
    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret
        self.ids: dict[str, str] = {}  # webhook-id -> the id we answered


def create_app(receiver: Receiver) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        refusal = await receiver.gate(
            lambda: web.json_response({"error": "slow down"}, status=429),
            lambda: web.json_response({"error": "unavailable"}, status=502),
        )
        if refusal is not None:
            return refusal
        body = await request.read()
        try:
            message_id = verify(receiver.secret, request.headers, body)
        except InvalidSignature as error:
            return web.json_response({"error": str(error)}, status=401)
        event = json.loads(body)
        receiver.received.append({"webhook_id": message_id, "event": event, "at": time.monotonic()})
        answer = receiver.ids.setdefault(message_id, f"ext-{len(receiver.ids) + 1}")
        return web.json_response({"id": answer})

    app = web.Application()
    app.add_routes([web.post("/leads", receive), *control_routes(receiver)])
    return app
