"""YandexDirectIntegration: paid leads as offline conversions in Yandex Metrica."""

from __future__ import annotations

import csv
import io
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import aiohttp
from aiolimiter import AsyncLimiter

from common import clock
from common.config import YandexSettings
from common.integrations.base import (
    DeliveryFailure,
    PermanentFailure,
    Reply,
    TemporaryFailure,
    is_crm_id,
    request,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversion:
    lead_id: str
    yclid: str | None
    client_id: str | None
    paid_at_unix: int
    price: Decimal
    currency: str


# Metrica Management API, "Information about an upload of offline conversions"
# (GET …/offline_conversions/uploading/{id}): the status goes PREPARED → UPLOADED →
# EXPORTED → MATCHED → PROCESSED, or ends LINKAGE_FAILURE when no row matched a visitor.
FINISHED = frozenset({"PROCESSED", "LINKAGE_FAILURE"})


@dataclass(frozen=True)
class Uploading:
    """What Metrica says of one upload: counts of rows, not which rows."""

    id: str
    status: str
    line_quantity: int  # rows that passed validation
    linked_quantity: int  # rows joined to a visitor
    user_not_found_quantity: int
    goal_not_found_quantity: int

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def linked(self) -> Literal["all", "none", "some"]:
        """ "all", "none" or "some" of the upload's rows were linked."""
        if self.status == "LINKAGE_FAILURE" or self.linked_quantity <= 0:
            return "none"
        return "all" if self.linked_quantity >= self.line_quantity else "some"

    @classmethod
    def of(cls, body: Any) -> Uploading:
        uploading = body.get("uploading") if isinstance(body, dict) else None
        if not isinstance(uploading, dict) or upload_id(uploading) is None:
            # A proxy's HTML page, a list or `null` says nothing about the upload: look again
            # later rather than end the check and leave the lead unconfirmed for good. An id
            # that is no id (null, an object, "../x") would be kept and asked about for good.
            raise TemporaryFailure("Yandex Metrica answered without an uploading; will look again")

        def count(name: str) -> int:
            value = uploading.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            id=str(upload_id(uploading)),
            status=str(uploading.get("status") or "UNKNOWN"),
            line_quantity=count("line_quantity"),
            linked_quantity=count("linked_quantity"),
            user_not_found_quantity=count("user_not_found_quantity"),
            goal_not_found_quantity=count("goal_not_found_quantity"),
        )


def upload_id(uploading: dict[str, object]) -> str | None:
    """An uploading's id as Metrica writes it (an integer; "Information about an upload of
    offline conversions": path parameter `id`, integer), as text; None for anything else."""
    value = uploading.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value) if is_crm_id(str(value)) else None


def build_csv(conversions: list[Conversion], target: str) -> str:
    """The upload file: Yclid when a lead has one, else its Metrica ClientId."""
    with_yclid = [c.yclid is not None for c in conversions]
    if all(with_yclid):
        ids = ["Yclid"]
    elif not any(with_yclid):
        ids = ["ClientId"]
    else:
        ids = ["Yclid", "ClientId"]  # a mixed batch: each row fills the one it has
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ids, "Target", "DateTime", "Price", "Currency"])
    for c in conversions:
        by_id = {"Yclid": c.yclid or "", "ClientId": "" if c.yclid else (c.client_id or "")}
        price = f"{c.price.quantize(Decimal('0.01'))}"
        writer.writerow([*(by_id[i] for i in ids), target, c.paid_at_unix, price, c.currency])
    return out.getvalue()


# What Metrica's visit_join_threshold answers. The official reference page ("getVisitJoinThreshold",
# api2/management/offline_conversion/getvisitjointhreshold) could not be read here, so its
# field names and units are NOT established from Yandex's own text. What the evidence gives:
# - the "Transmitting offline conversions" guide, step 2: visits can take conversions within
#   21 days; the period grows gradually after offline conversions are enabled; "to check
#   whether you can upload data and for what period" call GET …/visit_join_threshold;
# - the rym R client (CRAN, rym_allow_offline_conversion) reads one field, `date`, and
#   documents it as "the date and time from which conversions can be linked to visits";
# - Yandex's own API autotests (ru.yandex.autotests.metrika): an upload before the threshold
#   is met is refused 400 "Загрузить данные сейчас невозможно. Загрузка станет доступна …",
#   and offline_options.offline_conversion_extended_threshold is a 0/1 switch, not days.
# So the answer is read as {"date": <the earliest visit Metrica links to>}; ISO-8601 with or
# without "T", a zone (none: UTC) or a time. Anything else, or a date still to come (uploads
# not open yet), is not a window: the caller keeps what it knew and logs it once.
VISIT_JOIN_LIMIT = timedelta(days=21)  # the guide's maximum, whatever the counter answers
THRESHOLD_TTL = timedelta(hours=1)  # the window grows a day a day: an hour is fresh enough
THRESHOLD_RETRY = timedelta(minutes=5)  # after a failure: soon, but not on every batch


def joins_visits_since(body: Any) -> datetime:
    """The `date` of a visit_join_threshold answer as a UTC moment; UnexpectedAnswer else."""
    date = body.get("date") if isinstance(body, dict) else None
    if not isinstance(date, str):
        raise UnexpectedAnswer(f"visit_join_threshold answered without a date: {body!r:.200}")
    try:
        moment = datetime.fromisoformat(date.strip())
    except ValueError as error:
        raise UnexpectedAnswer(f"visit_join_threshold date {date!r:.60} is not a date") from error
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > clock.now():
        raise UnexpectedAnswer(f"visit_join_threshold date {date!r:.60} has not come yet")
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:  # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        raise UnexpectedAnswer(f"visit_join_threshold date {date!r:.60} is out of range") from error


@dataclass(frozen=True)
class VisitWindow:
    """The earliest visit Metrica will link a conversion to, and which limit set it."""

    since: datetime
    source: str


def visit_window(
    processed_by: datetime, configured_days: int | None, counter_since: datetime | None
) -> VisitWindow:
    """The narrowest of Metrica's 21 days, `yandex.visit_join_days` when set, and the
    counter's own threshold when known, all measured back from when Metrica processes."""
    windows = [VisitWindow(processed_by - VISIT_JOIN_LIMIT, "Metrica's maximum")]
    if configured_days is not None:
        since = processed_by - timedelta(days=configured_days)
        windows.append(VisitWindow(since, "yandex.visit_join_days"))
    if counter_since is not None:
        windows.append(VisitWindow(counter_since, "the counter's visit_join_threshold"))
    return max(windows, key=lambda window: window.since)


class UnexpectedAnswer(TemporaryFailure):
    """Metrica answered 2xx with something this client cannot read."""


class RefusedFile(PermanentFailure):
    """Metrica answered 400: something in the file (a row, or the header) is wrong."""


def classify(reply: Reply) -> None:
    """Metrica: 429 and 5xx are temporary, and so are 401/403 (a token or an access right
    that a person fixes: the conversion itself is fine); any other 4xx is final, with the
    API's message."""
    if 200 <= reply.status < 300:
        return
    body = reply.json()
    message = reply.excerpt()
    if isinstance(body, dict):
        errors = body.get("errors")
        listed = errors if isinstance(errors, list) else []
        texts = [e.get("message") for e in listed if isinstance(e, dict)]
        said = "; ".join(t for t in texts if isinstance(t, str) and t) or body.get("message")
        message = said if isinstance(said, str) and said else message
    text = f"Yandex Metrica answered HTTP {reply.status}: {message}"
    if reply.status in (401, 403, 429) or reply.status >= 500:
        raise TemporaryFailure(text, reply.retry_after())
    raise RefusedFile(text) if reply.status == 400 else PermanentFailure(text)


class YandexDirectIntegration:
    def __init__(self, settings: YandexSettings):
        self.settings = settings
        # Per process; on PostgreSQL ratelimit.share_limits puts a shared one here.
        self.limiter: AbstractAsyncContextManager[Any] = AsyncLimiter(settings.rate_limit, 1.0)
        self.threshold: datetime | None = None  # the counter's, as last read
        self.threshold_due = datetime.min.replace(tzinfo=UTC)  # when to read it again
        self.threshold_failing = False  # a failure is logged once, until a read succeeds

    @property
    def base(self) -> str:
        base = str(self.settings.base_url).rstrip("/")
        return f"{base}/management/v1/counter/{self.settings.counter_id}/offline_conversions"

    @property
    def url(self) -> str:
        return f"{self.base}/upload"

    @property
    def headers(self) -> dict[str, str]:
        assert self.settings.token is not None
        return {"Authorization": f"OAuth {self.settings.token.get_secret_value()}"}

    async def upload(
        self, http: aiohttp.ClientSession, conversions: list[Conversion], comment: str
    ) -> str:
        """Send all conversions in one file marked with `comment`; return Metrica's upload id."""
        form = aiohttp.FormData()
        form.add_field(
            "file",
            build_csv(conversions, self.settings.target).encode(),
            filename="conversions.csv",
            content_type="text/csv",
        )
        async with self.limiter:
            reply = await request(
                http,
                "POST",
                self.url,
                "Yandex Metrica",
                data=form,
                headers=self.headers,
                params={"comment": comment},
            )
        classify(reply)
        return Uploading.of(reply.json()).id

    async def find(self, http: aiohttp.ClientSession, comment: str) -> str | None:
        """The id of the upload marked with `comment`, if Metrica has one (GET …/uploadings:
        the counter's uploads, 10,000 by default)."""
        async with self.limiter:
            reply = await request(
                http, "GET", f"{self.base}/uploadings", "Yandex Metrica", headers=self.headers
            )
        classify(reply)
        body = reply.json()
        found = body.get("uploadings") if isinstance(body, dict) else None
        if not isinstance(found, list):
            # Not "no such upload": sent again, the conversions would be counted twice.
            raise UnexpectedAnswer(
                f"Yandex Metrica listed its uploadings without a list: {reply.excerpt()[:200]}"
            )
        for uploading in found:
            if isinstance(uploading, dict) and uploading.get("comment") == comment:
                if (found_id := upload_id(uploading)) is None:
                    raise UnexpectedAnswer(f"Yandex Metrica listed upload {comment} without an id")
                return found_id
        return None

    async def uploading(self, http: aiohttp.ClientSession, upload_id: str) -> Uploading:
        """How far Metrica has got with an upload."""
        url = f"{self.base}/uploading/{upload_id}"
        async with self.limiter:
            reply = await request(http, "GET", url, "Yandex Metrica", headers=self.headers)
        classify(reply)
        return Uploading.of(reply.json())

    async def counter_threshold(self, http: aiohttp.ClientSession) -> datetime | None:
        """The earliest visit the counter links conversions to, read at most hourly; a
        failure keeps the last value read (None before any) and never stops an upload."""
        now = clock.now()
        if now < self.threshold_due:
            return self.threshold
        try:
            self.threshold = await self._read_threshold(http)
        except DeliveryFailure as failure:
            self.threshold_due = now + THRESHOLD_RETRY
            if not self.threshold_failing:
                log.warning(
                    "Metrica's visit_join_threshold unread; the last known or configured"
                    " window is used",
                    extra={"reason": failure.message},
                )
            self.threshold_failing = True
            return self.threshold
        self.threshold_due = now + THRESHOLD_TTL
        self.threshold_failing = False
        return self.threshold

    async def _read_threshold(self, http: aiohttp.ClientSession) -> datetime:
        """GET …/offline_conversions/visit_join_threshold (see joins_visits_since)."""
        async with self.limiter:
            reply = await request(
                http,
                "GET",
                f"{self.base}/visit_join_threshold",
                "Yandex Metrica",
                headers=self.headers,
            )
        classify(reply)
        return joins_visits_since(reply.json())
