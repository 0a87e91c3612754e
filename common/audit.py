"""The audit trail: who did what, when and from where (issue 19).

One call records one action in the same transaction as the action itself, so a retry that
happened is never missing from the log and a logged retry always happened:

    tx.audit.add(AuditEntry(actor="anna", action=Action.RETRY, target=task_id, address=ip))

Actions are plain words (`Action`), so the log stays readable in SQL and in exports.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from enum import StrEnum

from common.store.audit import AuditEntry, AuditFilter

__all__ = ["Action", "AuditEntry", "AuditFilter", "cli_actor", "cli_address", "cli_entry"]


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    RETRY = "retry"  # a task or a lead sent again
    RETRY_ALL = "retry_all"
    ERASE = "erase"  # a person's data erased (dashboard, CLI, or retention)
    EXPORT = "export"  # leads, a report or the audit log itself downloaded
    ATTACH_PAYMENT = "attach_payment"
    DISMISS_PAYMENT = "dismiss_payment"  # an unmatched payment set aside as not ours, and why
    REOPEN_PAYMENT = "reopen_payment"  # a dismissed one brought back to the open ones
    ACKNOWLEDGE = "acknowledge"  # a configuration problem acknowledged
    USER_ADDED = "user_added"
    USER_REMOVED = "user_removed"
    BACKUP = "backup"
    RESTORE = "restore"
    COSTS_IMPORT = "costs_import"  # Direct cost imports queued
    REBUILD = "rebuild"  # the projections rewritten from the events
    AUTHORIZE = "authorize"  # a CRM's OAuth tokens stored from an authorization code
    UNBLOCK_CHAT = "unblock_chat"  # a Telegram chat that refused the bot sent to again


def cli_actor() -> str:
    """Who runs a CLI command: the operating system's user name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def cli_address() -> str:
    return socket.gethostname()


def cli_entry(
    action: Action, target: str = "", details: Mapping[str, str] | None = None
) -> AuditEntry:
    """An action of a CLI command, by whoever runs it, on this host."""
    return AuditEntry(
        actor=cli_actor(),
        action=action,
        target=target,
        address=cli_address(),
        details=details or {},
    )
