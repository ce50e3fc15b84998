import pytest

from tests.util import SHARED


@pytest.fixture(scope="session")
def shared_dir():
    assert SHARED.is_dir(), f"shared material not found at {SHARED}"
    return SHARED
