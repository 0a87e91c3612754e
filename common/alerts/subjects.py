"""What alerts are about and who receives them: every configured destination gets the
problems; each new lead only where its campaign is listed in `new_leads` ("*": all)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.config import AlertsSettings, EmailAlerts, TelegramAlerts
from common.model import campaign_key


class AlertKind(StrEnum):
    NEW_LEAD = "new_lead"
    DELIVERY_FAILED = "delivery_failed"  # a lead the CRM will never get without a person
    PROBLEM = "problem"  # a connection failing, a webhook off, a stalled queue, ...
    RECOVERED = "recovered"  # the problem of the same key is over


class Channel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


@dataclass(frozen=True)
class Destination:
    channel: Channel
    to: str  # a chat id or an e-mail address, as configured

    @property
    def key(self) -> str:
        """The alert (and the dispatcher's /healthz line) about this destination refusing
        alerts: a Telegram chat that blocked the bot."""
        return f"alerts:{self.channel}:{self.to}"


def _channels(settings: AlertsSettings) -> list[tuple[Channel, TelegramAlerts | EmailAlerts]]:
    found: list[tuple[Channel, TelegramAlerts | EmailAlerts]] = []
    if settings.telegram is not None:
        found.append((Channel.TELEGRAM, settings.telegram))
    if settings.email is not None:
        found.append((Channel.EMAIL, settings.email))
    return found


def _targets(config: TelegramAlerts | EmailAlerts) -> list[str]:
    return list(config.chat_ids if isinstance(config, TelegramAlerts) else config.recipients)


def destinations(settings: AlertsSettings) -> list[Destination]:
    """Where problems go: everywhere configured."""
    return [
        Destination(channel, to)
        for channel, config in _channels(settings)
        for to in _targets(config)
    ]


def new_lead_destinations(settings: AlertsSettings, campaign_id: str) -> list[Destination]:
    """Where a new lead of this campaign is announced (campaigns match without case)."""
    key = campaign_key(campaign_id)
    return [
        Destination(channel, to)
        for channel, config in _channels(settings)
        if "*" in config.new_leads or key in {campaign_key(c) for c in config.new_leads}
        for to in _targets(config)
    ]


def full_contacts(settings: AlertsSettings, channel: Channel) -> bool:
    """Whether this channel's lead messages show the phone and e-mail unmasked."""
    config = settings.telegram if channel == Channel.TELEGRAM else settings.email
    return config is not None and config.full_contacts


def configured(settings: AlertsSettings, destination: Destination) -> bool:
    """A task queued before the configuration changed may name a destination no longer there."""
    return destination in destinations(settings)
