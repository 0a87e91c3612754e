"""`python -m services.dashboard`: read the configuration and serve."""

from common.web import run_process
from services.dashboard.app import create_app

run_process("dashboard", create_app)
