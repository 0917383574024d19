"""Watching a model in production: input drift (PSI, Kolmogorov-Smirnov with a multiple-testing
correction, over time with CUSUM), calibration of the predicted probabilities, refusals and the
predicted-class mix, comparing a canary with the current version (sample size, non-inferiority,
sequential looks), and a model-quality gate for CI."""

from examples.monitoring.calibration import (
    ConfidenceCheck,
    clopper_pearson,
    confidence_check,
    ece_if_calibrated,
    expected_calibration_error,
    reliability_table,
    top_label,
)
from examples.monitoring.canary import (
    CanarySize,
    Comparison,
    bootstrap_difference,
    compare_proportions,
    disagreement,
    noninferiority_decision,
    noninferiority_size,
    per_arm_summary,
    simulated_noninferiority_power,
    trials_per_group,
    wilson_interval,
)
from examples.monitoring.drift import (
    benjamini_hochberg,
    cusum,
    cusum_alarms,
    drift_report,
    holm,
    hourly_z,
    ks_permutation_test,
    psi,
    psi_band,
    quantile_edges,
)
from examples.monitoring.quality_gate import GateResult, gate_models, quality_gate
from examples.monitoring.refusals import class_share_test, refusal_rate_alarm, refusal_table
from examples.monitoring.sequential import (
    crossing_probability,
    look_correlation,
    sequential_bounds,
    simulate_peeking,
)

__all__ = [
    "CanarySize",
    "Comparison",
    "ConfidenceCheck",
    "GateResult",
    "benjamini_hochberg",
    "bootstrap_difference",
    "class_share_test",
    "clopper_pearson",
    "compare_proportions",
    "confidence_check",
    "crossing_probability",
    "disagreement",
    "cusum",
    "cusum_alarms",
    "drift_report",
    "ece_if_calibrated",
    "expected_calibration_error",
    "gate_models",
    "holm",
    "hourly_z",
    "ks_permutation_test",
    "look_correlation",
    "noninferiority_decision",
    "noninferiority_size",
    "per_arm_summary",
    "psi",
    "psi_band",
    "quality_gate",
    "quantile_edges",
    "refusal_rate_alarm",
    "refusal_table",
    "reliability_table",
    "sequential_bounds",
    "simulate_peeking",
    "simulated_noninferiority_power",
    "top_label",
    "trials_per_group",
    "wilson_interval",
]
