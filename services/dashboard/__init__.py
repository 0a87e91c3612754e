"""Dashboard: what happened, per campaign and per lead."""
