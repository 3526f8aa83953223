"""Checks of area sasl (see README, list of checks)."""
