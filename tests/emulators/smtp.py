"""An in-process SMTP server (aiosmtpd) that keeps what it accepts, with switches to refuse.

Replies per RFC 5321 §4.2: 4yz transient ("451 Requested action aborted: local error"),
5yz permanent ("550 mailbox unavailable"); AUTH per RFC 4954 §6 ("535 Authentication
credentials invalid"). aiosmtpd's handler hooks (handle_RCPT, handle_DATA) and its
`authenticator` are documented at aiosmtpd.readthedocs.io ("Handler hooks", "Authentication").
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class SmtpState:
    username: str = "alerts"
    password: str = "smtp-secret-pw"
    refuse_rcpt: str | None = None  # e.g. "451 4.3.0 try later" or "550 5.1.1 no such user"
    refusals_left: int = 1_000_000  # how many RCPTs get refuse_rcpt before it is lifted
    received: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class Handler:
    def __init__(self, state: SmtpState):
        self.state = state

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        state = self.state
        if state.refuse_rcpt and state.refusals_left > 0:
            state.refusals_left -= 1
            return state.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        letter = message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        self.state.received.append(letter)
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, state: SmtpState):
        self.state = state

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode()
        self.state.logins.append(login)
        ok = login == self.state.username and data.password.decode() == self.state.password
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_smtp(state: SmtpState) -> tuple[Controller, int]:
    """Serve on 127.0.0.1 without TLS; AUTH allowed in the clear (a test server only)."""
    port = free_port()
    controller = Controller(
        Handler(state),
        hostname="127.0.0.1",
        port=port,
        authenticator=Authenticator(state),
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    return controller, port
