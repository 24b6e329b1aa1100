"""Fixtures for emqxd cluster tests (cluster_support.py has the harness):

    def test_x(cluster):
        c = cluster(3)                   # or cluster(3, netns=True), cluster(3, join=False)

`cluster` is a factory; at teardown, even when the test failed, every cluster it made is
closed: clients, nodes (SIGTERM, then SIGKILL by PID), helper processes, namespaces and
veths, data dirs. The teardown fails when a node died on its own, did not exit 0 on
SIGTERM, or something was left behind. When the test failed, each node's log tail is
printed (pytest shows it under "Captured stderr teardown").
"""
import os

import pytest

import cluster_support
from cluster_support import NetnsUnavailable, start_cluster


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def cluster(request):
    made = []

    def make(n, **kw):
        try:
            c = start_cluster(n, **kw)
        except NetnsUnavailable as e:
            # CI sets EMQXD_REQUIRE_NETNS: there the partition tests must run, not skip.
            if os.environ.get("EMQXD_REQUIRE_NETNS"):
                pytest.fail("network namespaces unavailable: %s (EMQXD_REQUIRE_NETNS is set)" % e)
            pytest.skip("network namespaces unavailable: %s" % e)
        made.append(c)
        return c

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    problems = []
    for c in made:
        problems += c.close(show_logs=failed)
    assert not problems, "cluster teardown:\n" + "\n".join(problems)


@pytest.fixture
def netns_available():
    """Skips the test when network namespaces cannot be made here (fails instead under
    EMQXD_REQUIRE_NETNS, as CI runs: there these tests must run)."""
    try:
        cluster_support.Network.check_available()
    except NetnsUnavailable as e:
        if os.environ.get("EMQXD_REQUIRE_NETNS"):
            pytest.fail("network namespaces unavailable: %s (EMQXD_REQUIRE_NETNS is set)" % e)
        pytest.skip("network namespaces unavailable: %s" % e)
