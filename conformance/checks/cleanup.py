"""Checks of area cleanup (see README, list of checks)."""
