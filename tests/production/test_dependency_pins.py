"""Chapter 21's check that every requirement is pinned (examples/production/dependency_pins.py)."""

from __future__ import annotations

from examples.production.dependency_pins import unpinned_requirements
from examples.toolbox import REPO_ROOT

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_unpinned_requirements_are_found(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# comment\nflask==3.1.0\nnumpy>=1.0\nrequests\nuvicorn[standard]==0.30.0\n-e .\n"
    )
    assert unpinned_requirements(path) == ["numpy>=1.0", "requests"]


def test_the_repository_pins_every_requirement():
    assert unpinned_requirements(REPO_ROOT / "requirements.txt") == []
