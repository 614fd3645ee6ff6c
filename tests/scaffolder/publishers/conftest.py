from __future__ import annotations

import pytest

from .recorded import replay, silence


@pytest.fixture
def api():
    with replay() as mock:
        yield mock


@pytest.fixture
def no_api():
    with silence() as mock:
        yield mock
