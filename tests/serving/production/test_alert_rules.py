"""The alert rules (deploy/prometheus/alerts.yml) are valid, pass their unit tests, and name only
metrics the service exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from examples.serving.production.metrics import ServiceMetrics

RULES_DIR = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus); CI installs it",
)


def promtool(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PROMTOOL, *arguments], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )


@needs_promtool
def test_promtool_check_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_test_rules():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_name_only_exported_metrics():
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    expressions = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    named = set(re.findall(r"\bserving_[a-z_]+", expressions))
    exported = set()
    for metric in ServiceMetrics().registry.collect():
        exported |= {sample.name for sample in metric.samples} | {metric.name}
    # A histogram's series are name_bucket, _sum and _count; a counter's name_total.
    exported |= {name + suffix for name in exported for suffix in ("_bucket", "_total")}
    assert named and named <= exported, named - exported
