"""Watching a model in production: input drift (PSI, Kolmogorov-Smirnov with a multiple-testing
correction), calibration of the predicted probabilities, and comparing a canary with the current
version."""

from examples.monitoring.calibration import (
    expected_calibration_error,
    reliability_table,
    top_label,
)
from examples.monitoring.canary import (
    Comparison,
    bootstrap_difference,
    compare_proportions,
    trials_per_group,
    wilson_interval,
)
from examples.monitoring.drift import (
    benjamini_hochberg,
    drift_report,
    holm,
    psi,
    psi_band,
    quantile_edges,
)

__all__ = [
    "Comparison",
    "benjamini_hochberg",
    "bootstrap_difference",
    "compare_proportions",
    "drift_report",
    "expected_calibration_error",
    "holm",
    "psi",
    "psi_band",
    "quantile_edges",
    "reliability_table",
    "top_label",
    "trials_per_group",
    "wilson_interval",
]
