"""The model-quality gate: the same model passes, chapter 24's v2 (C=0.01, all 45 test wines right,
log loss six times higher) fails it, although an accuracy-only gate would let it through."""

import numpy as np
import pytest
from scipy import stats

from examples.model import ensure_model, save_model
from examples.model.training import train_model
from examples.production.watching.__main__ import main
from examples.production.watching.quality_gate import (
    paired_t_upper_bound,
    quality_gate,
    row_brier,
    row_log_loss,
)


def test_row_scores_by_hand():
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert row_log_loss(np.array([0, 1]), probabilities) == pytest.approx([np.log(2), np.log(10)])
    assert row_brier(np.array([0, 0]), probabilities) == pytest.approx([0.5, 0.02])


def test_the_paired_t_bound_by_hand():
    differences = np.array([0.1, 0.3, -0.2, 0.5, 0.05])
    by_hand = differences.mean() + stats.t.ppf(0.95, 4) * differences.std(ddof=1) / np.sqrt(5)
    assert paired_t_upper_bound(differences) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.40224, abs=1e-5)
    assert paired_t_upper_bound(np.zeros(45)) == 0.0  # an identical retrain: no spread


def test_identical_probabilities_pass_and_much_worse_fail():
    labels = np.array([0, 1] * 20)
    good = np.where(labels[:, None] == [0, 1], 0.9, 0.1)
    vague = np.where(labels[:, None] == [0, 1], 0.6, 0.4)
    assert quality_gate(labels, good, good).passed
    result = quality_gate(labels, good, vague)
    assert not result.passed and result.accuracy_candidate == result.accuracy_current == 1.0


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate")
    ensure_model(folder / "current")
    save_model(train_model(), folder / "same")
    save_model(train_model(C=0.01), folder / "worse")
    return folder


def test_the_gate_on_real_models(models, capsys):
    assert main([str(models / "current"), str(models / "same")]) == 0
    assert capsys.readouterr().out.startswith("PASS")
    assert main([str(models / "current"), str(models / "worse")]) == 1
    assert capsys.readouterr().out.startswith("FAIL")
