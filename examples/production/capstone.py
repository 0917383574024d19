"""Pieces of the capstone (chapter 26): the false-refusal cost of the input domain's margin, an
alert check that replays the metrics scraped during a run through `promtool test rules`, and the
model's share of a request's CPU time."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sklearn.model_selection import StratifiedKFold

from examples.model.training import FEATURE_NAMES
from examples.toolbox import REPO_ROOT

ALERT_RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"


def refused_share(train: pd.DataFrame, new: pd.DataFrame, margin: float) -> float:
    """Share of the rows of `new` with a feature outside the range of `train` widened by `margin`
    of that range on each side (never below zero), as chapter 11's domain check does."""
    low, high = train[FEATURE_NAMES].min(), train[FEATURE_NAMES].max()
    allowed_low = (low - margin * (high - low)).clip(lower=0.0)
    allowed_high = high + margin * (high - low)
    values = new[FEATURE_NAMES]
    outside = (values.lt(allowed_low) | values.gt(allowed_high)).any(axis=1)
    return float(outside.mean())


def refusal_curve(
    features: pd.DataFrame,
    target: pd.Series,
    margins: Sequence[float],
    folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """For each margin, how many genuine wines are refused when the range comes from the other
    folds (stratified k-fold: every wine is held out exactly once)."""
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    refused = np.zeros(len(margins))
    for train_index, test_index in split.split(features, target):
        train, held_out = features.iloc[train_index], features.iloc[test_index]
        for i, margin in enumerate(margins):
            refused[i] += refused_share(train, held_out, margin) * len(held_out)
    return pd.DataFrame(
        {"margin": margins, "refused": refused.round().astype(int), "n": len(features)}
    )


@contextlib.contextmanager
def scrape_every(url: str, seconds: float) -> Iterator[list[tuple[float, str | None]]]:
    """Read `url` (an operator's /metrics) every `seconds` in a thread, as Prometheus would; yields
    the growing list of (time, text or None when the scrape failed). The thread stops with the block."""
    scrapes: list[tuple[float, str | None]] = []
    stop = threading.Event()

    def scrape() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    # A slow answer is still an answer (Prometheus' own default timeout is 10 s).
                    text = session.get(url, timeout=10).text
                except requests.RequestException:
                    text = None
                scrapes.append((started, text))
                stop.wait(max(0.0, seconds - (time.monotonic() - started)))

    thread = threading.Thread(target=scrape, name="scraper")
    thread.start()
    try:
        yield scrapes
    finally:
        stop.set()
        thread.join()


def _series_name(name: str, labels: dict[str, str]) -> str:
    inside = ", ".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return f"{name}{{{inside}}}"


def promtool_series(
    scrapes: Sequence[tuple[float, str | None]], job: str = "serving", instance: str = "capstone"
) -> list[dict[str, str]]:
    """The scraped samples as promtool input series, one value per scrape ('_' where a series was
    absent), plus `up` (1 when the scrape answered), labelled with job and instance as a
    Prometheus server labels what it scrapes."""
    target = {"job": job, "instance": instance}
    values: dict[str, list[str]] = {}
    for i, (_, text) in enumerate(scrapes):
        samples = []
        if text is not None:
            for family in text_string_to_metric_families(text):
                samples += [(s.name, s.labels, s.value) for s in family.samples]
        samples.append(("up", {}, 0.0 if text is None else 1.0))
        for name, labels, value in samples:
            key = _series_name(name, {**labels, **target})
            values.setdefault(key, ["_"] * len(scrapes))[i] = repr(float(value))
    return [{"series": key, "values": " ".join(found)} for key, found in values.items()]


def alert_rules(rule_file: Path = ALERT_RULES) -> dict[str, dict]:
    """Every alerting rule of the file, by name."""
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def expected_alert(rule: dict) -> dict:
    """What promtool must see when `rule` fires with no labels of its own beyond the rule's."""
    return {
        "exp_labels": dict(rule.get("labels", {})),
        "exp_annotations": dict(rule["annotations"]),
    }


def run_promtool_test(
    series: list[dict[str, str]],
    checks: list[dict],
    rule_file: Path = ALERT_RULES,
) -> subprocess.CompletedProcess:
    """Write a promtool test (one series value per minute) in a temporary folder and run it."""
    promtool = shutil.which("promtool")  # Debian: apt-get install prometheus
    if promtool is None:
        raise FileNotFoundError("promtool is not installed (Debian: apt-get install prometheus)")
    with tempfile.TemporaryDirectory() as folder:
        test = {
            "rule_files": [str(rule_file)],
            "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
        }
        path = Path(folder) / "capstone_test.yml"
        path.write_text(yaml.safe_dump(test, sort_keys=False, width=10_000))
        return subprocess.run(  # noqa: S603 - promtool from PATH, on a file we wrote
            [promtool, "test", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )


def alerts_firing(
    series: list[dict[str, str]], minute: int, rule_file: Path = ALERT_RULES
) -> set[str]:
    """The alerts firing at `minute`: those for which 'nothing fires' fails in promtool."""
    return {
        name
        for name in alert_rules(rule_file)
        if run_promtool_test(
            series, [{"eval_time": f"{minute}m", "alertname": name, "exp_alerts": []}], rule_file
        ).returncode
        != 0
    }


def check_alerts(
    series: list[dict[str, str]], expected: dict[int, set[str]], rule_file: Path = ALERT_RULES
) -> subprocess.CompletedProcess:
    """One promtool test: at each minute, exactly the expected alerts fire and every other is
    silent."""
    rules = alert_rules(rule_file)
    checks = [
        {
            "eval_time": f"{minute}m",
            "alertname": name,
            "exp_alerts": [expected_alert(rule)] if name in firing else [],
        }
        for minute, firing in expected.items()
        for name, rule in rules.items()
    ]
    return run_promtool_test(series, checks, rule_file)


class TimedPredictor:
    """Hands every call to the predictor it wraps, and adds up the CPU time spent in its
    predict_proba (time.thread_time: this thread's work only): the model's part of a request."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def predict_proba(self, X):  # noqa: N803 - the usual name for a design matrix
        start = time.thread_time()
        try:
            return self.inner.predict_proba(X)
        finally:
            self.seconds += time.thread_time() - start


class TimedApp:
    """WSGI middleware that adds up, over whole requests in the app (from the server's call until
    the body is produced), their CPU time and their wall-clock time, which adds any waiting."""

    def __init__(self, app) -> None:
        self.app = app
        self.seconds = 0.0
        self.wall_seconds = 0.0

    def __call__(self, environ, start_response):
        start, wall_start = time.thread_time(), time.perf_counter()
        response = self.app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()
            self.seconds += time.thread_time() - start
            self.wall_seconds += time.perf_counter() - wall_start


def model_share_rounds(
    url: str,
    body: dict,
    headers: dict[str, str],
    app: TimedApp,
    predictor: TimedPredictor,
    rounds: int = 10,
    per_round: int = 50,
) -> pd.DataFrame:
    """Per round of `per_round` requests sent one after another to a single-threaded server: the
    CPU seconds spent in the model and in the app, the app's wall-clock seconds and the client's."""
    found = []
    with requests.Session() as session:
        for _ in range(rounds):
            model_before, app_before, wall_before = predictor.seconds, app.seconds, app.wall_seconds
            started = time.perf_counter()
            for _ in range(per_round):
                session.post(url, json=body, headers=headers, timeout=10).raise_for_status()
            found.append(
                {
                    "model_cpu": predictor.seconds - model_before,
                    "app_cpu": app.seconds - app_before,
                    "app_wall": app.wall_seconds - wall_before,
                    "round_trip": time.perf_counter() - started,
                }
            )
    return pd.DataFrame(found)
