"""What became of one message: sent, to be tried again (when), or refused for good."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    moved_to: str | None = None  # Telegram moved the chat (a group became a supergroup)


@dataclass(frozen=True)
class TryLater:
    reason: str
    retry_after: float | None = None  # the server's own wait (Bot API retry_after)


@dataclass(frozen=True)
class Refused:
    """For good, for this destination: a blocked bot, a recipient the server refuses."""

    reason: str
    blocked: bool = False  # the chat refuses the bot: stop sending there


Outcome = Sent | TryLater | Refused
