"""Alarms: the typed alarm model, the alarm streams and the feed that keeps the active set."""
