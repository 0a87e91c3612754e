"""The four leadrelay processes."""
