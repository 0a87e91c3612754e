"""amoCRM's credentials: a fixed long-lived token, or an OAuth integration's token endpoint.

From amoCRM's "OAuth 2.0, step by step" (amocrm.com/developers/content/oauth/step-by-step)
and Kommo's API reference "Get token" (developers.kommo.com/reference/get-token):
`POST {base_url}/oauth2/access_token` with client_id, client_secret, grant_type
(`authorization_code` with `code`, or `refresh_token` with `refresh_token`) and
redirect_uri answers {token_type: "Bearer", expires_in, access_token, refresh_token}. An
authorization code lives 20 minutes; an access token 24 hours; a refresh token 3 months
and works once: each refresh returns a new pair and the old refresh token is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from common.config import AmoCrmConnection
from common.integrations.base import AuthFailure, Reply, TemporaryFailure, classify_http
from common.model import OAuthTokens

TOKEN_PATH = "/oauth2/access_token"
Call = Callable[..., Awaitable[Reply]]


class LongLivedToken:
    """A token made in amoCRM's interface and put in the configuration: nothing to renew."""

    renewable = False

    def __init__(self, token: SecretStr):
        self._token = token

    async def bearer(self, http: aiohttp.ClientSession, refused: str | None = None) -> str:
        return self._token.get_secret_value()


class NotAuthorized:
    """An OAuth connection in a process given no token store (a test, the dashboard)."""

    renewable = False

    def __init__(self, name: str):
        self.name = name

    async def bearer(self, http: aiohttp.ClientSession, refused: str | None = None) -> str:
        raise AuthFailure(f"amoCRM '{self.name}': this process has no stored OAuth tokens")


async def exchange(
    call: Call, name: str, connection: AmoCrmConnection, grant_type: str, value: str
) -> OAuthTokens:
    """A new pair for an authorization code (`grant_type` "authorization_code") or for the
    current refresh token ("refresh_token"). A refusal (400/401/403: a used or expired code
    or refresh token, a wrong secret) is an AuthFailure: a person must authorize again."""
    secret = connection.client_secret.get_secret_value() if connection.client_secret else ""
    field = "code" if grant_type == "authorization_code" else "refresh_token"
    body = {
        "client_id": connection.client_id,
        "client_secret": secret,
        "grant_type": grant_type,
        field: value,
        "redirect_uri": str(connection.redirect_uri),
    }
    url = str(connection.base_url).rstrip("/") + TOKEN_PATH
    reply = await call(url, json=body)
    service = f"amoCRM '{name}' token endpoint"
    if not 200 <= reply.status < 300:  # whatever the status, an answer may echo what it got
        text = reply.text.replace(value or "\0", "***").replace(secret or "\0", "***")
        reply = Reply(reply.status, text, reply.headers)
    if reply.status in (400, 401, 403):
        said = reply.excerpt()
        raise AuthFailure(
            f"{service} refused the {field.replace('_', ' ')} (HTTP {reply.status}: {said});"
            f" authorize again: leadrelay amocrm authorize {name} --code <a new code>"
        )
    classify_http(reply, service)
    return _tokens(reply.json(), service)


def _tokens(answer: Any, service: str) -> OAuthTokens:
    if not isinstance(answer, dict):
        raise TemporaryFailure(f"{service} answered without JSON")
    access, refresh, lives = (
        answer.get(k) for k in ("access_token", "refresh_token", "expires_in")
    )
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        raise TemporaryFailure(f"{service} answered without access_token and refresh_token")
    if not isinstance(lives, int | float) or isinstance(lives, bool) or lives <= 0:
        raise TemporaryFailure(f"{service} answered without a positive expires_in")
    return OAuthTokens(access, refresh, float(lives))
