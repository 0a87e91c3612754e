"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from common.errors import InvalidSignature

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
LONGEST_ID = 256  # characters of a webhook-id


def decode_secret(secret: str) -> bytes:
    """The HMAC key: the base64 text after `whsec_`."""
    if not secret.startswith(PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except binascii.Error as error:
        raise ValueError("the part after whsec_ is not base64") from error
    if len(key) < 16:
        raise ValueError("the secret is shorter than 16 bytes")
    return key


class Signer:
    """Signs with one secret; the key's set-up (decoding it, HMAC's padded key) is done
    once, and each message starts from a copy of it."""

    def __init__(self, secret: str):
        self._keyed = hmac.new(decode_secret(secret), digestmod=hashlib.sha256)

    def sign(self, message_id: str, timestamp: int, body: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(f"{message_id}.{timestamp}.".encode())
        mac.update(body)
        return "v1," + base64.b64encode(mac.digest()).decode()

    def headers(self, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
        timestamp = int(time.time() if now is None else now)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(message_id, timestamp, body),
        }


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    return Signer(secret).sign(message_id, timestamp, body)


def signed_headers(
    secret: str, message_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    return Signer(secret).headers(message_id, body, now)


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """Check the signature and its age; return the webhook-id."""
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not message_id or not stamp or not signatures:
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required")
    if not message_id.isascii():
        raise InvalidSignature("webhook-id must be ASCII")
    # An id is a few dozen characters (msg_<base62>); PostgreSQL's unique index on it holds at
    # most 2,704 bytes a row, and a longer one answered 503 there while SQLite kept it.
    if len(message_id) > LONGEST_ID:
        raise InvalidSignature(f"webhook-id is longer than {LONGEST_ID} characters")
    # isascii first: str.isdigit() accepts "²" and other digits int() does not.
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise InvalidSignature("webhook-timestamp is not Unix seconds")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is more than 5 minutes away")
    expected = sign(secret, message_id, int(stamp), body)
    # The header may carry several space-separated signatures (key rotation).
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return message_id
    raise InvalidSignature("no signature matches")
