"""A pytest plugin that records each notebook's nbval result and run time for the status page.

Enabled only by `make nbval` (`-p tools.nbval_report`). When the session ends it writes
`_build/status/nbval-results.json`, which `book/_ext/nbval_status.py` renders at build time.
Under pytest-xdist the workers' reports reach the controller, which alone writes the file.
"""

from __future__ import annotations

import json
import platform
from collections import defaultdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

RESULTS_PATH = Path("_build") / "status" / "nbval-results.json"


class NbvalReport:
    """Counts passed and failed cells, and adds up their time, per notebook file."""

    def __init__(self, rootdir: Path) -> None:
        self.path = rootdir / RESULTS_PATH
        self.notebooks: dict[str, dict] = defaultdict(
            lambda: {"cells": 0, "passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
        )

    def pytest_runtest_logreport(self, report) -> None:
        notebook = report.nodeid.split("::")[0]
        if not notebook.endswith(".ipynb"):
            return
        entry = self.notebooks[notebook]
        entry["seconds"] += report.duration
        if report.when == "call":
            entry["cells"] += 1
            entry[report.outcome] += 1
        elif report.failed:  # a failing setup or teardown (a kernel that would not start)
            entry["failed"] += 1

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        if not self.notebooks:
            return
        results = {
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "nbval_version": version("nbval"),
            "python": platform.python_version(),
            "seconds": round(sum(entry["seconds"] for entry in self.notebooks.values()), 2),
            "notebooks": {
                name: {**entry, "seconds": round(entry["seconds"], 2)}
                for name, entry in sorted(self.notebooks.items())
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(results, indent=2) + "\n")


def pytest_configure(config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the file
        return
    config.pluginmanager.register(NbvalReport(Path(str(config.rootpath))), "nbval-report")
