"""The framework peers' own environment: pinned, in step with the book's pins, rebuilt on change."""

from pathlib import Path

from benchmarks import peers
from examples.toolbox import REPO_ROOT


def pins(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    pairs = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {name.lower().replace("_", "-"): version for name, version in pairs}


def test_every_peer_package_is_pinned():
    lines = [line for line in peers.PINS.read_text().splitlines() if line and line[0] != "#"]
    assert lines and all("==" in line for line in lines)
    assert {"bentoml", "litserve"} <= pins(peers.PINS).keys()


def test_the_model_libraries_have_the_books_pins():
    """The peers must load the same artifact with the same code: same scikit-learn, skops, numpy."""
    ours, theirs = pins(REPO_ROOT / "requirements.txt"), pins(peers.PINS)
    model = ["scikit-learn", "numpy", "scipy", "skops", "joblib", "threadpoolctl", "pandas",
             "pydantic"]  # fmt: skip
    assert {name: theirs[name] for name in model} == {name: ours[name] for name in model}


def test_a_changed_pin_means_a_new_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = peers.environment_dir()
    changed = tmp_path / "pins.txt"
    changed.write_text(peers.PINS.read_text() + "\nsix==1.16.0\n")
    monkeypatch.setattr(peers, "PINS", changed)
    assert peers.environment_dir() != first and first.parent == tmp_path / "serving-ml-book"


def test_the_peers_import_this_clones_code():
    assert peers.peer_env()["PYTHONPATH"] == str(REPO_ROOT)
