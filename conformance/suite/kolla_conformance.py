"""The one test function the plugin parametrizes over the (host, check) pairs of the profile, and its fixtures.

The fixtures live here, not on the plugin object (pytest 10 drops fixtures defined on plugin instances); they
reach the run's session through the config stash.
"""

import pytest

from conformance.plugin import SESSION


@pytest.fixture(scope="session")
def conformance_session(request):
    session = request.config.stash[SESSION]
    yield session
    session.run.close()


@pytest.fixture
def conformance_host(conformance_session, conformance_target, request):
    return conformance_session.prepare_host(conformance_target, request.node)


def test_check(conformance_host, conformance_target, conformance_session, request):
    conformance_session.judge(conformance_host, conformance_target, request.node)
