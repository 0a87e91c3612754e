"""Ingest: accepts leads from landing pages."""
