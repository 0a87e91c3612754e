"""Alerts by e-mail over SMTP (aiosmtplib): STARTTLS or TLS from the first byte, per
[alerts.email]; one recipient per message, so a refusal is that recipient's alone.

RFC 5321 §4.2.1: a 4yz reply is a transient failure (try again), 5yz a permanent one; a
refused or timed-out connection is tried again.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from common.alerts.messages import Message
from common.alerts.outcomes import Outcome, Refused, Sent, TryLater
from common.config import EmailAlerts


class Mailer:
    def __init__(self, settings: EmailAlerts):
        self.settings = settings

    def _letter(self, recipient: str, message: Message) -> EmailMessage:
        letter = EmailMessage()
        letter["From"] = self.settings.sender
        letter["To"] = recipient
        letter["Subject"] = message.subject
        letter.set_content("\n".join(message.lines) or message.subject)
        return letter

    async def send(self, recipient: str, message: Message) -> Outcome:
        settings = self.settings
        password = settings.password.get_secret_value() if settings.password else None
        try:
            await aiosmtplib.send(
                self._letter(recipient, message),
                sender=settings.sender,
                recipients=[recipient],
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=password,
                use_tls=settings.tls,
                start_tls=settings.starttls,
                timeout=settings.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusals = error.recipients
            code = refusals[0].code if refusals else 550
            return _reply(code, f"the server refused {recipient}: {code} {_said(error)}")
        except aiosmtplib.SMTPAuthenticationError as error:
            return _reply(error.code, f"the SMTP server refused our login: {error.code}")
        except aiosmtplib.SMTPResponseException as error:
            return _reply(error.code, f"the SMTP server answered {error.code} {error.message}")
        except (aiosmtplib.SMTPException, OSError) as error:
            # Refused, timed out, dropped: the server may be back soon.
            return TryLater(f"SMTP server unreachable: {error.__class__.__name__}")
        return Sent()


def _reply(code: int, reason: str) -> Outcome:
    return TryLater(reason) if 400 <= code < 500 else Refused(reason)


def _said(error: aiosmtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(refusal.message for refusal in error.recipients)
