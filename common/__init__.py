"""Code shared by the four leadrelay processes."""
