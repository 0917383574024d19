"""examples/production/watching on synthetic data with known answers."""

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from examples.model import FEATURE_NAMES
from examples.production.watching import (
    benjamini_hochberg,
    bootstrap_difference,
    compare_proportions,
    drift_report,
    expected_calibration_error,
    holm,
    psi,
    psi_band,
    quantile_edges,
    reliability_table,
    trials_per_group,
    wilson_interval,
)


def _frame(rng, n, shift=None):
    data = rng.normal(size=(n, len(FEATURE_NAMES)))
    frame = pd.DataFrame(data, columns=FEATURE_NAMES)
    for name, amount in (shift or {}).items():
        frame[name] += amount
    return frame


# ---------------------------------------------------------------- PSI
def test_psi_matches_a_hand_computation():
    reference = np.arange(1, 101)  # median 50.5: two bins of 50 values each
    current = np.r_[np.full(25, 10), np.full(75, 90)]  # 25% below the median, 75% above
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(reference, current, bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.2747, abs=1e-4)


def test_psi_is_zero_for_identical_samples_and_small_without_drift():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=5000)
    assert psi(reference, reference) == 0.0
    assert psi(reference, rng.normal(size=5000)) < 0.02
    assert psi_band(psi(reference, rng.normal(size=5000))) == "stable"


def test_psi_detects_a_shift_of_one_standard_deviation():
    rng = np.random.default_rng(2)
    value = psi(rng.normal(size=5000), rng.normal(loc=1.0, size=5000))
    assert value > 0.25 and psi_band(value) == "major"


def test_values_outside_the_reference_range_are_counted_not_dropped():
    reference = np.linspace(0, 1, 1000)
    far_away = np.full(1000, 50.0)  # everything in the top bin
    # Top bin: 10% of the reference, 100% of the current; every other bin: share epsilon.
    value = psi(reference, far_away, bins=10, epsilon=1e-4)
    expected = (1 - 0.1) * np.log(1 / 0.1) + 9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert value == pytest.approx(expected, rel=1e-3)
    assert np.isfinite(value)


def test_repeated_values_give_fewer_bins():
    assert len(quantile_edges(np.r_[np.zeros(90), np.ones(10)], bins=10)) == 2


# ---------------------------------------------------------------- multiple testing
def test_holm_matches_a_hand_computation():
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> raised to 0.06 (monotone).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_benjamini_hochberg_matches_a_hand_computation():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4/1, 4/2, 4/3, 4/4, then minimum from the top.
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_no_drift_gives_few_rejections_and_small_psi():
    rng = np.random.default_rng(3)
    report = drift_report(_frame(rng, 2000), _frame(rng, 2000))
    assert list(report.index) == list(FEATURE_NAMES)
    assert report["drifted"].sum() == 0
    assert (report["psi"] < 0.1).all()


def test_a_shifted_feature_is_detected_and_only_it():
    rng = np.random.default_rng(4)
    report = drift_report(_frame(rng, 2000), _frame(rng, 2000, shift={"alcohol": 0.5}))
    assert report.index[report["drifted"]].tolist() == ["alcohol"]
    assert report.loc["alcohol", "psi_band"] in {"moderate", "major"}


def test_the_correction_controls_false_alarms():
    # 60 repetitions of 13 features with no drift at all: without a correction, about half of the
    # repetitions (1 - 0.95**13 = 49%) reject at least one feature; with Holm's, at most about 5%.
    rng = np.random.default_rng(5)
    runs_with_a_rejection = {"none": 0, "holm": 0, "bh": 0}
    for _ in range(60):
        report = drift_report(_frame(rng, 300), _frame(rng, 300), correction="none", bins=5)
        p_values = report["p_value"].to_numpy()
        runs_with_a_rejection["none"] += bool((p_values < 0.05).any())
        runs_with_a_rejection["holm"] += bool((holm(p_values) < 0.05).any())
        runs_with_a_rejection["bh"] += bool((benjamini_hochberg(p_values) < 0.05).any())
    assert runs_with_a_rejection["none"] >= 18, runs_with_a_rejection
    assert runs_with_a_rejection["holm"] <= 9, runs_with_a_rejection
    assert runs_with_a_rejection["bh"] <= 9, runs_with_a_rejection


@pytest.mark.parametrize("correction, adjust", [("holm", holm), ("bh", benjamini_hochberg)])
def test_the_report_applies_the_correction(correction, adjust):
    rng = np.random.default_rng(9)
    report = drift_report(
        _frame(rng, 400), _frame(rng, 400, shift={"hue": 0.2}), correction=correction
    )
    assert report["p_adjusted"].to_numpy() == pytest.approx(adjust(report["p_value"].to_numpy()))
    assert (report["drifted"] == (report["p_adjusted"] < 0.05)).all()


def test_adjusted_p_values_are_never_smaller():
    rng = np.random.default_rng(6)
    report = drift_report(_frame(rng, 500), _frame(rng, 500, shift={"proline": 0.3}))
    assert (report["p_adjusted"] >= report["p_value"]).all()


# ---------------------------------------------------------------- calibration
def test_reliability_table_matches_a_hand_computation():
    # Binary P(class 1): confidences 0.9, 0.9, 0.6, 0.6 (the last two predict class 0).
    probabilities = np.array([0.9, 0.9, 0.4, 0.4])
    table = reliability_table([1, 0, 0, 0], probabilities, n_bins=10)
    assert table[["lower", "count"]].to_dict("list") == {"lower": [0.5, 0.8], "count": [2, 2]}
    assert table["accuracy"].tolist() == [1.0, 0.5]
    assert table["gap"].to_numpy() == pytest.approx([0.4, -0.4])
    ece = expected_calibration_error([1, 0, 0, 0], probabilities, n_bins=10)
    assert ece == pytest.approx(0.4)


def test_calibrated_probabilities_have_a_small_ece_and_overconfident_ones_do_not():
    rng = np.random.default_rng(7)
    p = rng.uniform(size=20000)
    calibrated = (rng.uniform(size=p.size) < p).astype(int)  # P(y=1) really is p
    assert expected_calibration_error(calibrated, p) < 0.02
    # Push every probability towards 0 or 1: the model now claims more than it knows.
    sharpened = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
    assert expected_calibration_error(calibrated, sharpened) > 0.08


def test_multiclass_labels_by_name():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    table = reliability_table(
        ["class_0", "class_2"], probabilities, ["class_0", "class_1", "class_2"]
    )
    assert table["accuracy"].tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- canary
def test_wilson_interval_agrees_with_scipy():
    expected = stats.binomtest(7, 40).proportion_ci(method="wilson")
    assert wilson_interval(7, 40) == pytest.approx((expected.low, expected.high))


def test_compare_proportions_matches_a_hand_computation():
    comparison = compare_proportions(50, 100, 60, 100)
    # Pooled rate 0.55: se = sqrt(0.55 * 0.45 * 2 / 100) = 0.07036, z = 0.1 / se = 1.421.
    assert comparison.difference == pytest.approx(0.1)
    assert comparison.p_value == pytest.approx(2 * stats.norm.sf(0.1 / 0.070356), rel=1e-4)
    assert comparison.low < 0 < comparison.high
    assert comparison.conclusion.startswith("no difference detected")


def test_a_large_difference_is_detected():
    comparison = compare_proportions(900, 1000, 800, 1000)
    assert comparison.high < 0
    assert comparison.p_value < 1e-6
    assert comparison.conclusion.startswith("B is lower than A")


def test_sample_size_for_a_small_difference():
    # Detecting 0.90 against 0.92 needs thousands of requests per version, not dozens.
    assert 3000 < trials_per_group(0.90, 0.92) < 4000


def test_bootstrap_difference_of_a_latency_percentile():
    rng = np.random.default_rng(8)
    a = rng.lognormal(mean=np.log(20), sigma=0.3, size=2000)
    same = rng.lognormal(mean=np.log(20), sigma=0.3, size=2000)
    slower = rng.lognormal(mean=np.log(26), sigma=0.3, size=2000)
    p95 = functools.partial(np.quantile, q=0.95)
    assert bootstrap_difference(a, same, p95, n_resamples=1000).low < 0
    worse = bootstrap_difference(a, slower, p95, n_resamples=1000)
    assert worse.low > 0 and worse.conclusion.startswith("B is higher than A")
