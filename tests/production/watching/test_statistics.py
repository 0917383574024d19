"""The statistics chapter 24 adds: exact intervals, ECE's bias, canary sizes against known values
and simulation, group-sequential bounds against published tables, CUSUM, KS with ties, refusals."""

import numpy as np
import pytest
from scipy import stats

from examples.production.watching import (
    CanarySize,
    NoninferiorityDesign,
    class_share_test,
    clopper_pearson,
    confidence_check,
    crossing_probability,
    cusum,
    cusum_alarms,
    cusum_paths,
    ece_if_calibrated,
    expected_calibration_error,
    hourly_z,
    ks_permutation_test,
    mcnemar_exact,
    newcombe_lower_bound,
    noninferiority_decision,
    noninferiority_size,
    paired_class_shift,
    refusal_rate_alarm,
    refusal_table,
    sequential_bounds,
    simulate_peeking,
    simulated_noninferiority_power,
    simulated_noninferiority_size,
    trials_per_group,
)


# ---------------------------------------------------------------- calibration
def test_clopper_pearson_with_every_trial_a_success():
    # 45 of 45: the lower bound solves p^45 = 0.025, the upper bound is 1.
    low, high = clopper_pearson(45, 45)
    assert low == pytest.approx(0.025 ** (1 / 45)) and high == 1.0
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))


def test_clopper_pearson_agrees_with_scipy():
    expected = stats.binomtest(7, 20).proportion_ci(0.95, method="exact")
    assert clopper_pearson(7, 20) == pytest.approx((expected.low, expected.high))


def test_confidence_check_verdicts():
    sure = np.array([[0.99, 0.01]] * 40)
    wrong_half = np.array([0] * 20 + [1] * 20)
    assert confidence_check(wrong_half, sure).verdict.startswith("overconfident")
    timid = np.array([[0.6, 0.4]] * 40)
    assert confidence_check(np.zeros(40, int), timid).verdict.startswith("underconfident")
    assert confidence_check(np.zeros(40, int), sure).verdict.startswith("consistent")


def test_ece_is_biased_upwards_for_a_calibrated_model():
    rng = np.random.default_rng(1)
    first = rng.uniform(0.5, 1.0, 45)
    probabilities = np.column_stack([first, 1 - first])
    values = ece_if_calibrated(probabilities, repeats=300, seed=2)
    # Every one of these models is calibrated by construction, yet ECE is far from 0 ...
    assert values.mean() > 0.05
    # ... and shrinks with more predictions.
    many = np.repeat(probabilities, 20, axis=0)
    assert ece_if_calibrated(many, repeats=100, seed=3).mean() < values.mean() / 2


def test_ece_if_calibrated_draws_labels_from_the_probabilities():
    certain = np.tile([0.0, 1.0, 0.0], (10, 1))
    assert np.all(ece_if_calibrated(certain, repeats=5) == 0)
    assert expected_calibration_error(np.ones(10, int), certain) == 0


# ---------------------------------------------------------------- canary sizes
def test_two_sided_equal_groups_match_fleiss_table():
    # Fleiss (1981), uncorrected: 5% against 10%, alpha 0.05 two-sided, power 0.8 -> 435 per group.
    assert trials_per_group(0.05, 0.10) == 435


def test_noninferiority_size_matches_the_formula_by_hand():
    # p = 0.5 in both arms, margin 0.1, one-sided 5%, power 80%, equal groups:
    # (1.6449 + 0.8416)^2 * (0.25 + 0.25) / 0.1^2 = 309.1 -> 310 per group.
    assert noninferiority_size(NoninferiorityDesign(0.5, 0.5, 0.1, canary_share=0.5)) == CanarySize(
        310, 310
    )


def test_an_unequal_split_needs_more_in_total():
    equal = noninferiority_size(NoninferiorityDesign(0.97, 0.97, 0.02, canary_share=0.5))
    split = noninferiority_size(NoninferiorityDesign(0.97, 0.97, 0.02, canary_share=0.2))
    assert split.canary == pytest.approx(split.stable / 4, abs=1)
    # Var ~ 1/n_s + 1/n_c is minimised by equal groups: 80/20 costs 1/(4 * 0.2 * 0.8) = 1.56 times.
    assert split.total / equal.total == pytest.approx(1 / (4 * 0.2 * 0.8), rel=0.01)


def test_one_sided_needs_fewer_than_two_sided():
    one = noninferiority_size(NoninferiorityDesign(0.95, 0.97, 0.0, canary_share=0.5))
    assert one.stable < trials_per_group(0.97, 0.95)


@pytest.mark.parametrize("rates", [(0.5, 0.5, 0.1), (0.8, 0.8, 0.05)])
def test_simulated_power_is_near_the_target(rates):
    design = NoninferiorityDesign(*rates)
    size = noninferiority_size(design)
    assert simulated_noninferiority_power(design, size, repeats=4000, seed=5) == pytest.approx(
        0.8, abs=0.03
    )


def test_the_vectorised_newcombe_bound_is_the_decision_rules_bound():
    for counts in [(306, 313, 87, 87), (9700, 10000, 2430, 2500), (2200, 2249, 540, 563)]:
        bound = newcombe_lower_bound(*(np.array([c]) for c in counts))[0]
        assert bound == pytest.approx(noninferiority_decision(*counts, margin=0.02)[1])


def test_near_certainty_the_formula_is_too_small_for_the_rule_and_the_simulated_size_is_not():
    design = NoninferiorityDesign(0.97, 0.97, 0.02, canary_share=0.2)
    plan = noninferiority_size(design)
    # The Wald bound the formula assumes nearly reaches 80%; Newcombe's wider bound does not.
    assert simulated_noninferiority_power(design, plan, rule="wald", seed=1) > 0.76
    assert simulated_noninferiority_power(design, plan, seed=1) < 0.74
    size = simulated_noninferiority_size(design, seed=2)
    assert size.stable > plan.stable
    # Checked with other random numbers: 20,000 repeats, standard error about 0.003.
    power = simulated_noninferiority_power(design, size, repeats=20000, seed=3)
    assert power == pytest.approx(0.8, abs=0.01)


def test_impossible_sizes_are_refused():
    with pytest.raises(ValueError, match="above -margin"):
        noninferiority_size(NoninferiorityDesign(0.97, 0.94, 0.02))
    with pytest.raises(ValueError, match="canary_share"):
        NoninferiorityDesign(0.97, 0.97, 0.02, canary_share=1.0)


def test_the_decision_rule():
    assert noninferiority_decision(9700, 10000, 2430, 2500, margin=0.02)[0] == "non-inferior"
    assert noninferiority_decision(9700, 10000, 2250, 2500, margin=0.02)[0] == "worse"
    assert noninferiority_decision(310, 313, 87, 87, margin=0.02)[0] == "undecided"


# ---------------------------------------------------------------- sequential looks
@pytest.mark.parametrize(
    ("looks", "kind", "last"),
    # Jennison and Turnbull (2000), tables 2.1 and 2.3: two-sided alpha 0.05.
    [(2, "pocock", 2.178), (5, "pocock", 2.413), (2, "obrien-fleming", 1.977),
     (5, "obrien-fleming", 2.040)],
)  # fmt: skip
def test_bounds_match_published_tables(looks, kind, last):
    bounds = sequential_bounds(looks, 0.05, kind, two_sided=True)
    assert bounds[-1] == pytest.approx(last, abs=0.002)
    if kind == "obrien-fleming":
        assert bounds[0] == pytest.approx(last * np.sqrt(looks), abs=0.005)


def test_one_look_is_the_ordinary_test():
    assert sequential_bounds(1, 0.05)[0] == pytest.approx(stats.norm.ppf(0.95), abs=1e-3)
    assert crossing_probability(np.array([1.96]), two_sided=True) == pytest.approx(0.05, abs=1e-3)


def test_peeking_inflates_false_alarms_and_the_bounds_restore_them():
    naive = np.full(5, stats.norm.ppf(0.95))
    bounds = sequential_bounds(5, 0.05)
    # Rate 0.5 keeps the normal approximation good; 2,000 repeats: standard error about 0.005.
    peeking = simulate_peeking(0.5, 5, 400, naive, repeats=2000, seed=1)
    corrected = simulate_peeking(0.5, 5, 400, bounds, repeats=2000, seed=1)
    once = simulate_peeking(0.5, 1, 2000, naive[:1], repeats=2000, seed=1)
    assert peeking > 0.1
    assert corrected == pytest.approx(0.05, abs=0.015)
    assert once == pytest.approx(0.05, abs=0.015)


def test_peeking_at_the_noninferiority_branch_lets_bad_canaries_through():
    naive = np.full(5, stats.norm.ppf(0.95))
    bounds = sequential_bounds(5, 0.05)
    # The canary is exactly the margin worse: every "non-inferior" is a false alarm.
    peeking = simulate_peeking(0.5, 5, 200, naive, repeats=4000, seed=1, margin=0.1)
    corrected = simulate_peeking(0.5, 5, 200, bounds, repeats=4000, seed=1, margin=0.1)
    once = simulate_peeking(0.5, 1, 1000, naive[:1], repeats=4000, seed=1, margin=0.1)
    assert peeking > 0.1
    assert corrected == pytest.approx(0.05, abs=0.012)
    assert once == pytest.approx(0.05, abs=0.012)


# ---------------------------------------------------------------- drift over time
def test_cusum_by_hand():
    assert cusum([1.0, 1.0, -3.0, 0.0]).tolist() == [0.5, 1.0, 2.5, 2.0]


def test_cusum_alarms_agree_with_the_path():
    z = np.array([[0.0, 3.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert cusum_alarms(z, threshold=4.0).tolist() == [2, -1]
    assert cusum(z[0])[2] > 4.0 > cusum(z[0])[1]
    assert cusum_paths(z)[0].tolist() == cusum(z[0]).tolist()


def test_hourly_z_is_standard_normal_without_drift():
    z = hourly_z(np.random.default_rng(0), 720, 45, repeats=50)
    assert abs(z.mean()) < 0.02 and z.std() == pytest.approx(1, abs=0.02)


def test_an_estimated_reference_shares_its_error_across_hours():
    z = hourly_z(np.random.default_rng(0), 720, 45, reference_size=133, repeats=400)
    # The month's average keeps the reference's error: variance 45/133 of a standard normal.
    assert z.mean(axis=1).var() == pytest.approx(45 / 133, rel=0.2)


def test_ks_permutation_test_is_exact_with_ties():
    rng = np.random.default_rng(0)
    reference, current = rng.integers(0, 4, 60), rng.integers(0, 4, 30)
    statistic, p_value = ks_permutation_test(reference, current, n_permutations=300, seed=1)
    assert statistic == stats.ks_2samp(reference, current).statistic
    # With ties scipy's p-value is conservative: larger than the permutation one.
    assert p_value <= stats.ks_2samp(reference, current).pvalue + 0.05
    assert ks_permutation_test(reference, reference + 3, 200)[1] < 0.01


# ---------------------------------------------------------------- refusals and classes
def test_refusal_table_counts_fields_and_problems():
    body = {"error": {"details": [{"field": "features.alcohol", "problem": "too large, got 16"}]}}
    other = {"error": {"details": [{"field": "features.proline", "problem": "too large"},
                                   {"field": "features.alcohol", "problem": "too large, got 17"}]}}  # fmt: skip
    table = refusal_table([body, other, {"error": {"details": []}}])
    assert table.to_dict("records") == [
        {"field": "features.alcohol", "reason": "too large", "count": 2},
        {"field": "features.proline", "reason": "too large", "count": 1},
    ]
    assert refusal_table([]).empty


def test_refusal_rate_alarm():
    assert refusal_rate_alarm(1, 100, 0.01) == (pytest.approx(1 - 0.99**100), False)
    assert refusal_rate_alarm(10, 100, 0.01)[1] is True


def test_class_share_test():
    same = class_share_test(["a"] * 30 + ["b"] * 30, ["a"] * 30 + ["b"] * 30)
    assert same.attrs["p_value"] == pytest.approx(1.0)
    moved = class_share_test(
        ["a"] * 50 + ["b"] * 50, ["a"] * 90 + ["b"] * 10, classes=["a", "b", "c"]
    )
    assert moved.attrs["p_value"] < 1e-6
    assert moved.loc["c"].tolist() == [0.0, 0.0]


def test_the_fast_null_ece_equals_the_reliability_table_ece():
    probabilities = np.random.default_rng(0).dirichlet([1, 1, 1], size=60)
    fast = ece_if_calibrated(probabilities, repeats=5, seed=3)
    draws = np.random.default_rng(3).random((5, 60, 1))
    labels = (draws > probabilities.cumsum(axis=1)).sum(axis=2).clip(max=2)
    slow = [expected_calibration_error(row, probabilities) for row in labels]
    assert fast == pytest.approx(slow)


def test_mcnemar_exact_uses_only_the_discordant_pairs():
    # 1 item refused only the first time, 6 only the second: two-sided exact p = 2 * (1 + 7) / 2**7.
    first = [True] + [False] * 6 + [True] * 3 + [False] * 10
    second = [False] + [True] * 6 + [True] * 3 + [False] * 10
    paired = mcnemar_exact(first, second)
    assert (paired.only_first, paired.only_second, paired.both, paired.neither) == (1, 6, 3, 10)
    assert paired.p_value == pytest.approx(0.125)
    assert paired.p_value == pytest.approx(stats.binomtest(1, 7, 0.5).pvalue)
    # Concordant items do not move the p-value; no discordant item at all gives p = 1.
    assert mcnemar_exact(first + [True] * 50, second + [True] * 50).p_value == paired.p_value
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0


def test_paired_class_shift_with_two_classes_is_mcnemar():
    for only_first, only_second in [(1, 6), (0, 2), (3, 3), (2, 9)]:
        first = [True] * only_first + [False] * only_second + [True] * 4 + [False] * 10
        second = [False] * only_first + [True] * only_second + [True] * 4 + [False] * 10
        changed, p_value = paired_class_shift(first, second)
        assert changed == only_first + only_second
        assert p_value == pytest.approx(mcnemar_exact(first, second).p_value)


def test_paired_class_shift_by_hand_and_by_simulation():
    # Three changed items, each from class 1 to class 0: the 8 swaps give statistics 18 (twice,
    # all one way) and 2 (six times), so p = 2/8.
    assert paired_class_shift([1, 1, 1, 2], [0, 0, 0, 2]) == (3, 0.25)
    # A cycle 0->1->2->0 leaves the mix unchanged: statistic 0, p = 1.
    assert paired_class_shift([0, 1, 2], [1, 2, 0]) == (3, 1.0)
    assert paired_class_shift([0, 1], [0, 1]) == (0, 1.0)
    # More than 16 changed items: random swaps, close to the binomial answer for two classes.
    first, second = [1] * 14 + [0] * 6, [0] * 14 + [1] * 6
    assert paired_class_shift(first, second)[1] == pytest.approx(
        stats.binomtest(6, 20).pvalue, abs=0.01
    )
    with pytest.raises(ValueError):
        paired_class_shift([0, 1], [0])
