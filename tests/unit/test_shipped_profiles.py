"""The shipped profiles stay valid against the schema (their paths point at a real deployment, not here)."""

import pytest
import yaml

from conformance.profile import HOST_KEYS, SCHEMA, SHIPPED, _validate

PROFILES = sorted(SHIPPED.glob("*.yml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profile_matches_schema(path):
    data = yaml.safe_load(path.read_text())
    _validate(path, data, SCHEMA, "")
    for host in data.get("hosts", []):
        if isinstance(host, dict):
            _validate(path, host, HOST_KEYS, "hosts.")
    assert set(data.get("phases", [])) <= {"predeploy", "postdeploy", "postcleanup"}


def test_there_are_profiles():
    assert len(PROFILES) >= 3
