"""The test suite's shared fixtures come from tests/support/, loaded here as pytest plugins.

Loading them once here (not importing fixtures into test modules) makes each session-scoped
server start once per run, not once per test module that imports it.
"""

import pytest

# The helpers assert too (error_of, nothing_stored, ...): rewrite their asserts like a test
# module's, so that a failure shows the values and not only the line.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.audio",
    "tests.support.databases",
    "tests.support.redis_server",
    "tests.support.s3_server",
    "tests.support.scale_out",
]
