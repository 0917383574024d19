"""Dependencies are pinned exactly, and the service's hashed runtime list agrees with the full list."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def test_every_requirement_is_pinned_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line == "-e ." or re.match(r"^[A-Za-z0-9_.\-\[\]]+==\S+$", line), line


def test_service_requirements_use_the_same_pins_as_the_book():
    everything, service = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-service.txt")
    assert len(service) > 10
    for name, version in service.items():
        assert everything.get(name) == version, f"{name}: {version} against {everything.get(name)}"


def test_every_service_requirement_carries_a_hash():
    text = (ROOT / "requirements-service.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z])", text.split("\n\n")[-1] if "\n\n" in text else text)
    for entry in entries:
        if "==" in entry:
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]
