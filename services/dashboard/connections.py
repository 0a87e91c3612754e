"""Each CRM connection's credentials as the dashboard shows them: how it authorizes, until
when, and what went wrong; never a token."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import AmoCrmConnection, Settings
from common.store.credentials import StoredTokens


@dataclass(frozen=True)
class CredentialState:
    name: str
    kind: str
    state: str  # long_lived | oauth | not_authorized | refused | configured
    expires: str | None = None  # a date, or an ISO time (UTC)
    error: str | None = None


def credential_states(settings: Settings, stored: list[StoredTokens]) -> list[CredentialState]:
    by_name = {tokens.connection: tokens for tokens in stored}
    return [_state(name, c, by_name.get(name)) for name, c in sorted(settings.crm.items())]


def _state(name: str, connection: object, tokens: StoredTokens | None) -> CredentialState:
    if not isinstance(connection, AmoCrmConnection):
        kind = str(getattr(connection, "kind", "?"))
        return CredentialState(name, kind, "configured")  # a webhook URL or secret: no expiry
    if not connection.oauth:
        expires = connection.token_expires.isoformat() if connection.token_expires else None
        return CredentialState(name, "amocrm", "long_lived", expires)
    if tokens is None:
        return CredentialState(name, "amocrm", "not_authorized")
    state = "refused" if tokens.last_error else "oauth"
    return CredentialState(name, "amocrm", state, tokens.expires_at, tokens.last_error)
