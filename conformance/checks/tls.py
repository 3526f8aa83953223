"""Checks of area tls (see README, list of checks)."""
