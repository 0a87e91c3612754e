"""Alerts to Telegram and e-mail: who is told what (subjects), the words (messages), the two
channels, and the units of work that decide, once for all processes, that a message is due."""
