"""The one test function the plugin parametrizes over the (host, check) pairs of the profile."""


def test_check(conformance_host, conformance_target, conformance_session, request):
    conformance_session.judge(conformance_host, conformance_target, request.node)
