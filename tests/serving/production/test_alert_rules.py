"""The alert rules (deploy/prometheus/alerts.yml) are valid, pass their unit tests, and name only
metrics the service exports. The latency SLO's burn-rate pair is also tested here case by case:
it fires for a fast burn and for a slow burn, and stays silent for a burn inside the budget."""

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
    suffixes = ("_bucket", "_sum", "_count", "_total")
    exported |= {name + suffix for name in exported for suffix in suffixes}
    assert named and named <= exported, named - exported


LATENCY_ALERTS = ("PredictionLatencyBudgetFastBurn", "PredictionLatencyBudgetSlowBurn")


def alert_rules() -> dict[str, dict]:
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}


def latency_case(slow_share: float, minutes: int, eval_minutes: int, firing: set[str]) -> dict:
    """A promtool unit test: 1,000 single predictions a minute, `slow_share` of them over 50 ms,
    for `minutes`; at `eval_minutes`, exactly the alerts in `firing` must fire."""
    fast = round(1000 * (1 - slow_share))
    route = 'route="/v1/predict"'
    series = [
        (f'serving_http_request_duration_seconds_bucket{{{route}, le="0.05"}}', fast),
        (f"serving_http_request_duration_seconds_count{{{route}}}", 1000),
    ]
    rules = alert_rules()
    expectations = [
        {
            "eval_time": f"{eval_minutes}m",
            "alertname": name,
            "exp_alerts": [
                {"exp_labels": rules[name]["labels"], "exp_annotations": rules[name]["annotations"]}
            ]
            if name in firing
            else [],
        }
        for name in LATENCY_ALERTS
    ]
    return {
        "rule_files": [str(RULES_DIR / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": name, "values": f"0+{step}x{minutes}"} for name, step in series
                ],
                "alert_rule_test": expectations,
            }
        ],
    }


def promtool_test(case: dict, folder: Path) -> subprocess.CompletedProcess:
    path = folder / "case_test.yml"
    path.write_text(yaml.safe_dump(case))
    return promtool("test", "rules", str(path))


@needs_promtool
@pytest.mark.parametrize(
    ("slow_share", "minutes", "eval_minutes", "firing"),
    [
        # 20% slow is a burn rate of 20 against the 1% budget: above 14.4, so it pages; over
        # 70 minutes it is above 6 in both slow windows as well.
        pytest.param(0.20, 80, 70, set(LATENCY_ALERTS), id="fast-burn"),
        # 8%: a burn rate of 8, above 6 and below 14.4, for seven hours: only the slow alert.
        pytest.param(0.08, 420, 400, {"PredictionLatencyBudgetSlowBurn"}, id="slow-burn"),
        # 0.5%: half the budget's rate, for seven hours: nothing.
        pytest.param(0.005, 420, 400, set(), id="inside-budget"),
    ],
)
def test_the_latency_burn_rate_pair(tmp_path, slow_share, minutes, eval_minutes, firing):
    result = promtool_test(latency_case(slow_share, minutes, eval_minutes, firing), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_fails_a_wrong_expectation(tmp_path):
    """The cases above could pass vacuously; a fast burn expected to stay silent must fail."""
    result = promtool_test(latency_case(0.20, 80, 70, set()), tmp_path)
    assert result.returncode != 0
    assert "PredictionLatencyBudgetFastBurn" in result.stdout + result.stderr
