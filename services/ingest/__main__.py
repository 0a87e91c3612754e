"""`python -m services.ingest`: read the configuration and serve."""

from common.web import run_process
from services.ingest.app import create_app

run_process("ingest", create_app)
