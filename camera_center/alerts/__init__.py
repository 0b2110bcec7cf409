"""Alerts: what a detection becomes once stored, and how people handle it to closure."""
