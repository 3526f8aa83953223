"""Shared by the remediation machinery tests (test_machinery.py, test_interrupts.py)."""

import subprocess

import pytest

from conformance.remediation.remote import FAIL_AT_ENV


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A small 'host': a config file owned by a non-root user, a key with a loose mode, a backup root."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "sasl.conf").write_text("mech_list: scram-sha-256\nsasldb_path: /etc/libvirt/passwd.db\n")
    (etc / "sasl.conf").chmod(0o660)
    subprocess.run(["chown", "42427:42427", str(etc / "sasl.conf")], check=True)
    (etc / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    (etc / "key.pem").chmod(0o644)
    monkeypatch.delenv(FAIL_AT_ENV, raising=False)
    return etc
