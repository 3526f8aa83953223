"""Checks of area libvirt_mode (see README, list of checks)."""
