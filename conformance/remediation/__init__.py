"""Remediation: plan, apply and check again for the failures that have a known fix (see plugin.py)."""
