"""Webhooks: payments reported back by the CRMs."""
