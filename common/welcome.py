"""What a person is told when leadrelay starts: where the dashboard is and how to log in."""

from __future__ import annotations

from common.config import DEFAULT_PASSWORD, Settings

# The only passwords ever printed: the documented default (refused off loopback) and the
# demo's (demo/leadrelay.demo.toml). Any other is a real one and is only pointed to.
DEMO_PASSWORD = "demo"
SHOWN_PASSWORDS = {DEFAULT_PASSWORD, DEMO_PASSWORD}
EVERYWHERE = {"0.0.0.0", "::", ""}


def local_url(host: str, port: int) -> str:
    """How a process on this machine reaches a server listening on `host`:`port`."""
    shown = "127.0.0.1" if host in EVERYWHERE else host
    if ":" in shown:  # an IPv6 address
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def dashboard_url(settings: Settings) -> str:
    """The dashboard's address on this machine, from the configuration in use."""
    return f"{local_url(settings.dashboard.host, settings.dashboard.port)}/admin"


def login_hint(settings: Settings, named_users: int) -> str:
    """How to log in: the named users once there are any, else the configured login."""
    if named_users:
        return (
            f"log in with your own name and password ({named_users} named users:"
            " `leadrelay users list`)"
        )
    dashboard = settings.dashboard
    password = dashboard.password.get_secret_value()
    if password in SHOWN_PASSWORDS:
        where = f"password {password}" + (
            " (the default: set dashboard.password or LEADRELAY_DASHBOARD__PASSWORD)"
            if password == DEFAULT_PASSWORD
            else ""
        )
    else:
        where = "the password in dashboard.password (or LEADRELAY_DASHBOARD__PASSWORD)"
    return (
        f"log in as {dashboard.username}, {where}; give people their own logins with"
        " `leadrelay users add NAME --role admin|staff`"
    )


def welcome(settings: Settings, named_users: int) -> str:
    listening = " (listening on every address)" if settings.dashboard.host in EVERYWHERE else ""
    return f"dashboard: {dashboard_url(settings)}{listening}\n{login_hint(settings, named_users)}"
