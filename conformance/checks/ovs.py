"""Checks of area ovs (see README, list of checks)."""
