"""Issue 8's hostile-input catalogue: every plugin's routes against lies, floods and foreign ids.

Each case is one parametrized test whose id says what is tried, and each asserts the exact
safe outcome: the status, the JSON error code, and that nothing was stored, leaked or run.
`pytest tests/hostile_input -q` prints how many cases were tried. One module per section
(test_01_... to test_13_...); the shared app is in conftest.py, the shared pieces in
tests/support/hostile_input.py.
"""
