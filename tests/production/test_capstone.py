"""The capstone's pieces: the margin's false-refusal curve and the replay of scrapes into promtool."""

from __future__ import annotations

import shutil

import pytest

from examples.model.training import FEATURE_NAMES, load_wine_frame, split_data
from examples.production.capstone import (
    alert_rules,
    alerts_firing,
    check_alerts,
    promtool_series,
    refusal_curve,
    refused_share,
)

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def test_refused_share_matches_the_trained_domain():
    X_train, X_test, *_ = split_data()
    # The book's split: 2 of the 45 held-out wines lie outside the 10% margin (chapter 26).
    assert round(refused_share(X_train, X_test, 0.10) * len(X_test)) == 2
    assert refused_share(X_train, X_train, 0.0) == 0.0


def test_refusal_curve_falls_as_the_margin_grows():
    frame = load_wine_frame()
    curve = refusal_curve(frame[FEATURE_NAMES], frame["target"], [0.0, 0.1, 0.5, 5.0])
    assert list(curve["refused"]) == sorted(curve["refused"], reverse=True)
    assert curve["refused"].iloc[-1] == 0 and curve["n"].iloc[0] == len(frame)


def scrape(ok: int, refused: int, errors: int = 0) -> str:
    lines = [
        "# TYPE serving_http_requests_total counter",
        f'serving_http_requests_total{{route="/v1/predict",method="POST",status="200"}} {ok}',
        f'serving_http_requests_total{{route="/v1/predict",method="POST",status="422"}} {refused}',
        f'serving_http_requests_total{{route="/v1/predict",method="POST",status="503"}} {errors}',
    ]
    return "\n".join(lines) + "\n"


def test_series_hold_one_value_per_scrape_and_up():
    series = promtool_series([(0.0, scrape(1, 0)), (1.0, None), (2.0, scrape(3, 1))])
    by_name = {s["series"]: s["values"] for s in series}
    assert by_name['up{instance="capstone", job="serving"}'] == "1.0 0.0 1.0"
    key = 'serving_http_requests_total{instance="capstone", job="serving", method="POST", route="/v1/predict", status="422"}'
    assert by_name[key] == "0.0 _ 1.0"


@needs_promtool
def test_replayed_scrapes_fire_exactly_the_expected_alerts():
    # 20 quiet minutes, then 20 with half the requests refused (422): only the refusal alert.
    scrapes, ok, refused = [], 0, 0
    for minute in range(40):
        ok, refused = ok + 100, refused + (100 if minute >= 20 else 0)
        scrapes.append((float(minute), scrape(ok, refused)))
    series = promtool_series(scrapes)
    assert alerts_firing(series, 19) == set()
    assert alerts_firing(series, 39) == {"PredictionInputsRefused"}
    assert check_alerts(series, {19: set(), 39: {"PredictionInputsRefused"}}).returncode == 0
    wrong = check_alerts(series, {39: set()})
    assert wrong.returncode != 0 and "PredictionInputsRefused" in wrong.stdout + wrong.stderr
    assert "PredictionErrorBudgetFastBurn" in alert_rules()


def test_the_model_share_counts_the_predictor_inside_the_app(tmp_path):
    from examples.model import ensure_model
    from examples.production.capstone import TimedApp, TimedPredictor, model_share_rounds
    from examples.serving import Settings, create_app
    from examples.serving.predictor import load_predictor
    from examples.toolbox import serve_app

    ensure_model(tmp_path / "model")
    settings = Settings.isolated(tmp_path, tmp_path / "model")
    predictor = TimedPredictor(load_predictor(settings))
    app = TimedApp(create_app(settings, predictor=predictor))
    X_train, *_ = split_data()
    body = {"features": X_train.mean().to_dict()}
    with serve_app(app, ready_path="/readyz", threaded=False) as server:
        rounds = model_share_rounds(server.url + "/v1/predict", body, {}, app, predictor, 3, 5)
    assert (
        list(rounds.columns) == ["model_cpu", "app_cpu", "app_wall", "round_trip"]
        and len(rounds) == 3
    )
    assert (rounds["model_cpu"] > 0).all() and (rounds["model_cpu"] < rounds["app_cpu"]).all()
    assert (rounds["app_wall"] < rounds["round_trip"]).all()
    assert predictor.metadata is predictor.inner.metadata  # everything else is handed on
