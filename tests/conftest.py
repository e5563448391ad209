"""Settings every test shares."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_trust_record(tmp_path_factory, monkeypatch):
    """Trust records go to a folder of the test's own, never to the user's ~/.config."""
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", str(tmp_path_factory.mktemp("trust")))
