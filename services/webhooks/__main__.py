"""`python -m services.webhooks`: read the configuration and serve."""

from common.web import run_process
from services.webhooks.app import create_app

run_process("webhooks", create_app)
