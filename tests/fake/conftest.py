"""The `client` fixture: a fresh client with a token, against the test's `nemo_fake` server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fake_client import Client


@pytest.fixture
def client(nemo_fake: Any) -> Iterator[Client]:
    made = Client(nemo_fake.base_url)
    made.get_token()
    yield made
    made.http.close()
