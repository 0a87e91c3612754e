"""`leadrelay erase --phone … | --email … | --lead … [--reason TEXT]`: erase a person's data
(common.erasure). The phone is read as intake reads it, the e-mail without case; what was
asked for is checked before the database is opened, and never printed back."""

from __future__ import annotations

import argparse
import sys

from common.audit import cli_actor, cli_address
from common.config import Settings
from common.erasure import Request, erase, leads_of, read_email, read_phone
from common.store import Store


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "erase", help="erase a person's data from every lead that holds their phone or e-mail"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--phone", help="as the person wrote it; read as intake reads it")
    which.add_argument("--email", help="compared without case")
    which.add_argument("--lead", metavar="ID", help="one lead, by its id")
    parser.add_argument("--reason", default="", help="why (kept in the log; e.g. a request id)")


def checked(settings: Settings, args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(phone, e-mail) as stored, or ValueError naming what is wrong with the one given."""
    if args.phone is not None:
        return read_phone(args.phone, settings.ingest.default_phone_region), None
    if args.email is not None:
        return None, read_email(args.email)
    if not args.lead.strip():
        raise ValueError("--lead is empty")
    return None, None


async def run(
    store: Store, settings: Settings, args: argparse.Namespace, phone: str | None, email: str | None
) -> int:
    if args.lead is not None:
        if await store.read(lambda tx: tx.leads.version(args.lead.strip())) is None:
            print(f"erase: lead {args.lead.strip()} does not exist", file=sys.stderr)
            return 1
        lead_ids = [args.lead.strip()]
    else:
        lead_ids = await store.read(lambda tx: leads_of(tx, phone, email))
    if not lead_ids:
        print("erase: no lead holds that contact; nothing to erase")
        return 0
    request = Request(cli_actor(), args.reason, cli_address(), rewrite=settings.privacy.vacuum_full)
    outcome = await erase(store, lead_ids, request)
    for lead_id in outcome.erased:
        print(f"erase: lead {lead_id} erased")
    for lead_id in outcome.already:
        print(f"erase: lead {lead_id} was erased before; nothing left to erase")
    if not outcome.traces_gone:
        print(
            "erase: the database was busy, so old copies may stay in its -wal file until"
            " the next checkpoint; run the command again to finish",
            file=sys.stderr,
        )
        return 1
    return 0
