"""Direct's costs end to end, as `make demo` runs them: real processes, the emulated Reports
service seeded as the demo seeds it, the import queued from the CLI, and cost and ROMI per
campaign in the JSON API."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import aiohttp

from common import clock
from common.config import Settings
from tests.e2e.system import AMO_WEBHOOK_TOKEN
from tests.e2e.test_money_loop import amo_won, crm_id_of, post_lead, webhook
from tests.emulators import direct
from tests.emulators.__main__ import DIRECT_CAMPAIGNS
from tests.helpers import rows, wait_for_async

API_TOKEN = "e2e-api-token"
ZONE = Settings().dashboard.zone  # the default, Europe/Moscow


def cost_of(account: direct.Direct, direct_campaign_id: str) -> Decimal:
    return sum(
        (f.cost for (_, cid), f in account.figures.items() if cid == direct_campaign_id),
        Decimal(0),
    )


async def test_the_demo_s_costs_are_imported_and_shown_with_romi(system):
    direct.seed_demo(system.direct, DIRECT_CAMPAIGNS, days=30, zone=ZONE.key)
    system.config(extra=system.direct_section(), dashboard=f'api_token = "{API_TOKEN}"')
    await system.start("ingest", "webhooks", "dispatcher", "dashboard")
    # Direct's {campaign_id}-style setup: the ad's utm_campaign names the Direct campaign.
    paid = await post_lead(system, "amo-campaign", 1, utm_campaign="spring-sale")
    await post_lead(system, "shop-landing", 2)  # no CRM route: a lead with cost, no revenue
    won = amo_won(await crm_id_of(system, paid), "150000")
    status, _ = await webhook(system, "amo", won, query=f"?token={AMO_WEBHOOK_TOKEN}")
    assert status == 200

    today = clock.now().astimezone(ZONE).date()
    first = today - timedelta(days=29)
    queued = system.cli("costs", "import", "--from", str(first), "--to", str(today))
    assert queued.returncode == 0, queued.stderr
    [task_id] = [int(line.split("\t")[0]) for line in queued.stdout.splitlines()[1:]]

    def imports() -> list[dict]:
        return rows(system.db_path, "SELECT * FROM tasks WHERE type = 'import_direct_costs'")

    async def all_done() -> bool:
        found = imports()
        return task_id in {t["id"] for t in found} and all(
            t["status"] == "completed" for t in found
        )

    await wait_for_async(all_done, timeout=30)
    assert len(imports()) == 2  # the schedule's import at start, and the one asked for

    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{system.services['dashboard'].url}/api/v1/stats",
            params={"date_from": str(first), "date_to": str(today)},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        ) as resp:
            assert resp.status == 200
            report = (await resp.json())["report"]
    lines = {line["campaign"]: line for line in report["campaigns"]}

    spent = cost_of(system.direct, "70000001")
    romi = (100 * (Decimal(150000) - spent) / spent).quantize(Decimal("0.1"), ROUND_HALF_UP)
    amo = lines["amo-campaign"]
    assert (amo["leads"], amo["sales"], Decimal(amo["revenue"])) == (1, 1, Decimal(150000))
    assert Decimal(amo["cost"]) == spent and Decimal(amo["romi"]) == romi
    assert amo["direct_campaign_ids"] == ["70000001"]
    shop = lines["shop-landing"]
    assert Decimal(shop["cost"]) == cost_of(system.direct, "70000002") > 0
    assert (shop["unpaid_cost"], Decimal(shop["romi"])) == (True, Decimal("-100.0"))
    total = sum(map(lambda c: cost_of(system.direct, c), DIRECT_CAMPAIGNS), Decimal(0))
    assert Decimal(report["totals"]["cost"]) == total
    assert system.cli("verify").returncode == 0
