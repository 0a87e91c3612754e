import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from common.config import Settings, load_settings
from tests.helpers import SECRET

FULL = """
database = "db/lr.db"
[ingest]
port = 9001
[crm.amo]
kind = "amocrm"
base_url = "https://example.amocrm.ru"
token = "amo-token"
webhook_token = "hook"
[crm.shop]
kind = "generic"
url = "https://crm.example.com/leads"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[routing]
default_crm = "amo"
[routing.campaigns]
"shop-landing" = "shop"
"""


def write(tmp_path, text: str, monkeypatch) -> None:
    path = tmp_path / "leadrelay.toml"
    path.write_text(text)
    monkeypatch.setenv("LEADRELAY_CONFIG", str(path))


def test_file_then_environment(tmp_path, monkeypatch):
    write(tmp_path, FULL, monkeypatch)
    monkeypatch.setenv("LEADRELAY_INGEST__PORT", "9100")
    monkeypatch.setenv("LEADRELAY_CRM__AMO__TOKEN", "from-env")
    settings = load_settings()
    assert settings.ingest.port == 9100
    assert settings.crm["amo"].token.get_secret_value() == "from-env"
    assert settings.crm["amo"].base_url.host == "example.amocrm.ru"
    assert settings.route_for("shop-landing") == "shop"
    assert settings.route_for("anything") == "amo"
    assert "from-env" not in repr(settings)  # secrets stay out of reprs and logs


def test_routing_matches_a_campaign_without_case(tmp_path, monkeypatch):
    write(tmp_path, FULL.replace('"shop-landing"', '"Shop-Landing"'), monkeypatch)
    settings = load_settings()
    assert settings.route_for("shop-landing") == "shop"  # as Tilda's lower-cased UTM says
    assert settings.route_for("SHOP-LANDING") == "shop"
    assert settings.route_for("shop-landing-2") == "amo"


def test_defaults_without_a_file():
    settings = Settings()
    assert settings.ingest.port == 8081 and settings.dashboard.port == 8083
    assert settings.route_for("x") is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[ingest]\nprot = 1\n", "ingest.prot"),
        ("databse = 'x'\n", "databse"),
        ("[routing]\ndefault_crm = 'nowhere'\n", "routing.default_crm"),
        ("[crm.amo]\nkind='amocrm'\nbase_url='https://a.amocrm.ru'\nwebhook_token='w'\n", "token"),
        ("[crm.x]\nkind='telegram'\n", "crm.x"),
        (
            "[crm.amo]\nkind='amocrm'\nbase_url='https://a.amocrm.ru'\nwebhook_token='w'\n"
            "token='t'\nclient_id='c'\n",
            "not both",
        ),
        (
            "[crm.amo]\nkind='amocrm'\nbase_url='https://a.amocrm.ru'\nwebhook_token='w'\n"
            "client_id='c'\nredirect_uri='https://leads.example.ru/cb'\n",
            "client_secret: required for an OAuth integration",
        ),
        ("[ingest]\ntrusted_proxies = ['not-an-ip']\n", "ingest.trusted_proxies"),
        ("[webhooks]\nmetrics_from = ['10.0.0.0/33']\n", "webhooks.metrics_from"),
        ("[ingest]\nmax_connections_per_address = 0\n", "ingest.max_connections_per_address"),
        ("[webhooks]\nmax_unmatched_per_connection = 0\n", "max_unmatched_per_connection"),
        ("[crm.s]\nkind='generic'\nurl='https://a.ru'\nsecret='plain'\n", "crm.s"),
        ("[dispatcher]\nconcurrency = 0\n", "dispatcher.concurrency"),
        ("[dashboard]\nhost = '0.0.0.0'\n", "dashboard.password"),
        ("[dashboard]\napi_token = 'REPLACE-ME'\n", "dashboard.api_token: still the example's"),
        ("[dashboard]\nsecret_key = 'replace-me'\n", "dashboard.secret_key: still the example's"),
        (FULL + '"SHOP-landing" = "amo"\n', "routing.campaigns.SHOP-landing"),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_the_key(tmp_path, monkeypatch, text, named):
    write(tmp_path, text, monkeypatch)
    proc = subprocess.run(
        [sys.executable, "-m", "common.cli", "migrate"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("leadrelay: invalid configuration")
    assert named in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


EXAMPLE = Path(__file__).resolve().parents[2] / "leadrelay.example.toml"
# The example's secrets that let requests in, and what replaces each in this test.
GATES = {
    "dashboard.password": ("LEADRELAY_DASHBOARD__PASSWORD", "a-long-password"),
    "crm.amo.amocrm.webhook_token": ("LEADRELAY_CRM__AMO__WEBHOOK_TOKEN", "hook-token"),
    "crm.b24.bitrix24.application_token": ("LEADRELAY_CRM__B24__APPLICATION_TOKEN", "b24"),
    "crm.shop.generic.secret": ("LEADRELAY_CRM__SHOP__SECRET", SECRET),
}


def test_the_example_file_ships_no_usable_secret(monkeypatch):
    """What a user must give is an obvious REPLACE-ME; the secrets that let requests in stop
    the process until they are replaced, and the demo's public signing secret is not there."""
    assert "whsec_MfKQ" not in EXAMPLE.read_text()
    monkeypatch.setenv("LEADRELAY_CONFIG", str(EXAMPLE))
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert {".".join(map(str, e["loc"])) for e in refused.value.errors()} == set(GATES)
    assert all("REPLACE-ME" in e["msg"] for e in refused.value.errors())
    for variable, value in GATES.values():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert set(settings.crm) == {"amo", "b24", "shop"}
    assert settings.route_for("spring-sale") == "b24"
    # A secret we send out stays a placeholder without danger: the CRM refuses it.
    assert settings.crm["amo"].token.get_secret_value() == "REPLACE-ME"


def test_an_unknown_environment_variable_is_refused(monkeypatch):
    monkeypatch.setenv("LEADRELAY_DATABSE", "x.db")
    proc = subprocess.run(
        [sys.executable, "-m", "common.cli", "migrate"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert proc.stderr.strip() == "leadrelay: invalid configuration: LEADRELAY_DATABSE: no such key"


@pytest.mark.parametrize(
    ("campaigns", "said"),
    [
        ({"Spring": "a", "spring": "b"}, "the same Direct campaign as 'Spring'"),
        ({"12345": " "}, "campaigns.12345: give our campaign_id"),
    ],
)
def test_a_direct_campaign_is_mapped_once(campaigns, said):
    with pytest.raises(ValidationError) as refused:
        Settings(direct={"campaigns": campaigns})
    assert said in str(refused.value)
    assert Settings(direct={"campaigns": {"Spring": "a", "12345": "b"}}).direct.campaigns
