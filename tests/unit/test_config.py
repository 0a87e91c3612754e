import subprocess
import sys

import pytest

from common.config import Settings, load_settings

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
        ("[crm.s]\nkind='generic'\nurl='https://a.ru'\nsecret='plain'\n", "crm.s"),
        ("[dispatcher]\nconcurrency = 0\n", "dispatcher.concurrency"),
        ("[dashboard]\nhost = '0.0.0.0'\n", "dashboard.password"),
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


def test_the_example_file_is_valid(monkeypatch):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "leadrelay.example.toml"
    monkeypatch.setenv("LEADRELAY_CONFIG", str(example))
    settings = load_settings()
    assert set(settings.crm) == {"amo", "b24", "shop"}
    assert settings.route_for("spring-sale") == "b24"


def test_an_unknown_environment_variable_is_refused(monkeypatch):
    monkeypatch.setenv("LEADRELAY_DATABSE", "x.db")
    proc = subprocess.run(
        [sys.executable, "-m", "common.cli", "migrate"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert proc.stderr.strip() == "leadrelay: invalid configuration: LEADRELAY_DATABSE: no such key"
