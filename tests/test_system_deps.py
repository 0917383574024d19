"""`make test` on a machine without the Debian packages it needs: one line, never a traceback."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder():
    """A scratch folder a normal user can read (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="system-deps-"))
    path.chmod(0o755)  # noqa: S103 - read by `nobody` in the test
    yield path
    shutil.rmtree(path)


def copy_tools(tmp_path: Path, packages: str) -> Path:
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(
        REPO_ROOT / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "tools" / "system-packages.txt").write_text(packages)
    for path in tmp_path.rglob("*"):
        path.chmod(0o755)  # noqa: S103 - read by `nobody` in the test
    return tmp_path


def as_a_normal_user(command: list[str]) -> list[str]:
    """The command as it runs for a reader without root (as `nobody` when the tests run as root)."""
    if os.geteuid() != 0:
        return command
    if not shutil.which("runuser"):
        pytest.skip("running as root without runuser: cannot act as a normal user")
    return ["runuser", "-u", "nobody", "--", *command]


def test_the_package_list_names_a_file_for_each_package():
    lines = (REPO_ROOT / "tools" / "system-packages.txt").read_text().splitlines()
    entries = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    assert entries and all(len(entry) == 2 and entry[1].startswith("/") for entry in entries)


def test_nothing_missing_prints_nothing(folder):
    copy_tools(folder, "coreutils /bin/sh\n")
    done = subprocess.run(["bash", "tools/system-deps.sh", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_make_test_without_root_stops_at_once_with_one_line(folder):
    copy_tools(folder, "coreutils /bin/sh\nno-such-package /no/such/file\n")
    done = subprocess.run(as_a_normal_user(["make", "-s", "test"]), cwd=folder,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0
    assert len(output) == 1, output
    assert "no-such-package" in output[0] and "sudo make system-deps" in output[0]
    assert "coreutils" not in output[0] and "Traceback" not in output[0]


def test_an_unreadable_list_is_an_error_not_a_pass(folder):
    copy_tools(folder, "")
    (folder / "tools" / "system-packages.txt").unlink()
    done = subprocess.run(["bash", "tools/system-deps.sh", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 1 and "cannot read" in done.stdout
