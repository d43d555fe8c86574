import pytest


@pytest.fixture
def town(world):
    """The world of tests/world.py, by the name the security tests give it."""
    return world
