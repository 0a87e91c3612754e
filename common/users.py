"""Named dashboard users: their passwords as scrypt hashes, and adding and removing them.

While no named user exists, the configured `dashboard.username` / `dashboard.password` logs
in as the one admin; the first named user ends that login (and its open sessions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from common.errors import Conflict, InvalidField, NotFound
from common.model import Role
from common.store import Tx

# scrypt's cost: 2**15 rounds of 8 blocks take 32 MiB and about 0.1 s, the parameters
# OWASP lists for scrypt. They are stored with each hash, so raising them later leaves old
# hashes readable.
COST, BLOCK, PARALLEL = 2**15, 8, 1
MAX_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD = 8
NAME = re.compile(r"^[\w.@-]{1,64}$")
# A hash no password matches, checked when the name is unknown, so a wrong name costs as
# long as a wrong password and the answer time does not tell which names exist.
NOBODY = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _scrypt(password: str, salt: bytes, cost: int, block: int, parallel: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost, r=block, p=parallel, maxmem=MAX_MEMORY, dklen=32
    )


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64): what is stored instead of the password."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, COST, BLOCK, PARALLEL)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return "$".join(["scrypt", str(COST), str(BLOCK), str(PARALLEL), *encoded])


def password_matches(password: str, stored: str) -> bool:
    """Does `password` give `stored`? Takes scrypt's time (run it off the event loop)."""
    try:
        kind, cost, block, parallel, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        given = _scrypt(password, base64.b64decode(salt), int(cost), int(block), int(parallel))
    except ValueError:  # not a hash this code wrote
        return False
    return kind == "scrypt" and hmac.compare_digest(given, expected)


def check_name(name: str) -> None:
    """A name `users add` accepts, or InvalidField saying why."""
    if not NAME.match(name):
        raise InvalidField(
            f"user name {name!r}: 1 to 64 letters, digits and . _ @ - (no spaces)",
            [{"field": "name", "message": "letters, digits and . _ @ - only"}],
        )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidField(
            f"password: at least {MIN_PASSWORD} characters",
            [{"field": "password", "message": "too short"}],
        )


def add_user(tx: Tx, name: str, role: Role, password_hash: str) -> bool:
    """A unit of work: a new user. True if it is the first, whose arrival ended the
    configured shared login (its sessions are closed with it)."""
    first = tx.users.count() == 0
    if first:
        tx.sessions.close_all()
    if not tx.users.add(name, role, password_hash):
        raise Conflict(f"user {name!r} exists: remove it first to give a new password or role")
    _an_admin_remains(tx)
    return first


def remove_user(tx: Tx, name: str) -> None:
    """A unit of work: the user goes, and every session they had open closes with them."""
    if not tx.users.remove(name):
        raise NotFound(f"no user {name!r} (leadrelay users list shows who there is)")
    tx.sessions.close_all(name)
    _an_admin_remains(tx)


def _an_admin_remains(tx: Tx) -> None:
    """Named users without an admin would leave nobody to change settings (the shared login
    is off while any user exists): refused, so the unit changes nothing."""
    if tx.users.count() and not tx.users.count(Role.ADMIN):
        raise Conflict("that would leave no admin: add an admin first (--role admin)")
