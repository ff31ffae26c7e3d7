"""Session hooks for the test suite."""

from __future__ import annotations

import pip_resolve


def pytest_collection_modifyitems(session, config, items):
    # The pin resolutions for other Pythons wait on the network for about a minute each:
    # start them now, when they are going to be tested, so that they overlap the other
    # tests.
    if any(item.nodeid.startswith("tests/test_python_versions.py") for item in items):
        pip_resolve.start()


def pytest_sessionfinish(session, exitstatus):
    pip_resolve.stop()
