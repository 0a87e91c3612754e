"""An amoCRM long-lived token is told as expiring by the business's calendar
(dashboard.timezone), not UTC's: at 22:30 UTC it is already tomorrow in Moscow."""

from __future__ import annotations

from datetime import date, timedelta

from common import clock
from common.days import today
from services.dispatcher.alerts_raise import AlertTriggers
from tests.helpers import crm_connections, rows


def amo(expires: date) -> dict:
    return crm_connections(token_expires=expires.isoformat())["amo"]


async def test_a_token_is_expiring_within_the_days_of_the_business_s_calendar(
    settings, store, move_clock
):
    now = clock.now()
    late = now.replace(hour=22, minute=30, second=0, microsecond=0)
    move_clock(seconds=((late - now).total_seconds() % 86400))  # the next 22:30 UTC
    zone = settings.dashboard.zone
    assert today(zone) == clock.now().date() + timedelta(days=1)  # Moscow's day is UTC's next
    last = today(zone) + timedelta(days=settings.alerts.credential_expiry_days)
    telegram = {"base_url": "http://127.0.0.1:9", "token": "1:t", "chat_ids": ["-1"]}
    configured = type(settings).model_validate(
        {
            "database": settings.database,
            "crm": {"soon": amo(last), "later": amo(last + timedelta(days=1))},
            "alerts": {"telegram": telegram},
        }
    )
    triggers = AlertTriggers(configured, store)
    triggers.credentials()
    await triggers.stop()
    told = rows(settings.database, "SELECT key, problem FROM alert_state WHERE firing = 1")
    assert [row["key"] for row in told] == ["credential:soon"]
    assert last.isoformat() in told[0]["problem"]
