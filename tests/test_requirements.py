"""Dependencies are pinned exactly, and the service's hashed runtime list agrees with the full list
and carries a hash for Linux x86-64 and for Linux arm64 wherever a package has compiled code."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-service.txt"
# The one package the image installs that the book's own list does not pin: the build backend.
BUILD_BACKEND = "setuptools"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def lock_entries(text: str) -> dict[str, dict]:
    """{name: {"hashes": set of digests, "files": {file name: digest prefix}}} from the lock."""
    entries: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==", line):
            current = entries.setdefault(match[1], {"hashes": set(), "files": {}})
        elif current is not None and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            current["hashes"].add(digest[1])
        elif current is not None and (note := re.match(r"^\s+# sha256:([0-9a-f]+)\s+(\S+)$", line)):
            current["files"][note[2]] = note[1]
    return entries


def architecture_problems(entries: dict[str, dict]) -> list[str]:
    """Each hash belongs to a named file; a package with compiled code names a CPython 3.11 wheel
    for x86_64 and one for aarch64; a pure-Python package names one wheel for every platform."""
    problems = []
    for name, entry in entries.items():
        matched = [
            [digest for digest in entry["hashes"] if digest.startswith(prefix)]
            for prefix in entry["files"].values()
        ]
        if not entry["files"] or any(len(found) != 1 for found in matched):
            problems.append(f"{name}: a file whose hash is missing or ambiguous")
        if len(entry["hashes"]) != len(entry["files"]):
            problems.append(
                f"{name}: {len(entry['hashes'])} hashes for {len(entry['files'])} files"
            )
        tags = {file: parse_wheel_filename(file)[3] for file in entry["files"]}
        if any(tag.platform == "any" for tags_ in tags.values() for tag in tags_):
            continue
        for architecture in ("x86_64", "aarch64"):
            usable = [
                file
                for file, tags_ in tags.items()
                if any(
                    tag.platform.endswith(architecture)
                    and tag.platform.startswith("manylinux")
                    and tag.interpreter in {"cp311", "cp310", "cp39", "cp38", "cp37"}
                    and tag.abi in {"cp311", "abi3"}
                    for tag in tags_
                )
            ]
            if not usable:
                problems.append(f"{name}: no CPython 3.11 wheel for Linux {architecture}")
    return problems


def test_every_requirement_is_pinned_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line == "-e ." or re.match(r"^[A-Za-z0-9_.\-\[\]]+==\S+$", line), line


def test_service_requirements_use_the_same_pins_as_the_book():
    everything, service = pins(ROOT / "requirements.txt"), pins(LOCK)
    assert len(service) > 10
    for name, version in service.items():
        if name != BUILD_BACKEND:
            assert everything.get(name) == version, f"{name}: {version} vs {everything.get(name)}"


def test_the_build_backend_is_locked_and_satisfies_pyproject():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    (required,) = [Requirement(text) for text in build["requires"]]
    assert required.name == BUILD_BACKEND
    assert required.specifier.contains(pins(LOCK)[BUILD_BACKEND])
    # The image builds the app with this hashed copy, not with one pip would fetch unhashed.
    assert "--no-build-isolation" in (ROOT / "Dockerfile").read_text()


def test_every_service_requirement_carries_a_hash():
    entries = lock_entries(LOCK.read_text())
    assert len(entries) == len(pins(LOCK))
    assert all(entry["hashes"] for entry in entries.values())


def test_the_lock_covers_x86_64_and_arm64():
    text = LOCK.read_text()
    assert "x86-64 AND Linux arm64 (aarch64)" in " ".join(text.split())
    entries = lock_entries(text)
    assert architecture_problems(entries) == []
    compiled = [name for name, entry in entries.items() if len(entry["files"]) == 2]
    assert {"numpy", "scipy", "onnxruntime", "pandas", "scikit-learn"} <= set(compiled)


def test_the_architecture_check_catches_an_x86_only_lock():
    text = LOCK.read_text()
    entries = lock_entries(text)
    numpy = entries["numpy"]
    arm = next(file for file in numpy["files"] if "aarch64" in file)
    prefix = numpy["files"].pop(arm)
    numpy["hashes"] = {digest for digest in numpy["hashes"] if not digest.startswith(prefix)}
    assert architecture_problems(entries) == ["numpy: no CPython 3.11 wheel for Linux aarch64"]


def service_imports() -> set[str]:
    """Top-level modules that examples/serving and examples/model import, outside the stdlib."""
    import ast
    import sys

    found = set()
    sources = [*ROOT.glob("examples/serving/**/*.py"), *ROOT.glob("examples/model/*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"examples", "tools"}


def test_every_module_the_service_imports_is_in_the_image_lock():
    # The image installs only the lock: a new import without its package fails only at start-up
    # in a container, which no test here would see.
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    locked = set(pins(LOCK))
    missing = {
        module: providers.get(module)
        for module in service_imports()
        if not {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])} & locked
    }
    assert missing == {}, "run tools/lock_service_requirements.py after adding it to the list"


def test_requirements_pin_the_uv_that_make_venv_installs_first():
    """make venv installs `grep '^uv==' requirements.txt` with pip; without that line it would fail."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert len([line for line in lines if line.startswith("uv==")]) == 1
