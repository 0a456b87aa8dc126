"""Shared test helpers, one module per subject; tests/conftest.py loads the ones with fixtures as pytest plugins.

Test modules import helpers from here (`from tests.support.party import wav_bytes`), never from
another test module or a conftest.py (tests/test_import_contract.py checks it). What a third-party
plugin's own tests may use is `mediahub.testing`, not this package.
"""
