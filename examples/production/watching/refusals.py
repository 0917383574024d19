"""What the prediction table cannot show. A request refused with 422 is never stored, so a drift
report built from stored rows misses exactly the most unusual inputs. A monitor therefore counts
refusals too: their rate, and the fields and reasons in the error bodies the service returns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def refusal_table(error_bodies: Iterable[Mapping]) -> pd.DataFrame:
    """One row per (field, reason) found in the `details` of 422 error bodies, with its count,
    most frequent first. `field` is "features.alcohol" style, as the service writes it; the reason
    is the problem without the offending value ("must be at most 4.08, got 5.1" counts as
    "must be at most 4.08"), so that refusals for one cause add up."""
    rows = [
        {
            "field": detail.get("field", "body"),
            "reason": re.sub(r",? got .*$", "", detail.get("problem", "")),
        }
        for body in error_bodies
        for detail in (body.get("error") or {}).get("details") or []
    ]
    if not rows:
        return pd.DataFrame(columns=["field", "reason", "count"])
    frame = pd.DataFrame(rows).value_counts().rename("count").reset_index()
    return frame.sort_values(["count", "field"], ascending=[False, True], ignore_index=True)


def refusal_rate_alarm(
    refused: int, total: int, baseline_rate: float, alpha: float = 0.01
) -> tuple[float, bool]:
    """(p-value, alarm) of a one-sided exact binomial test: is the share of refused requests in
    this window higher than the `baseline_rate` measured on normal traffic?"""
    test = stats.binomtest(refused, total, baseline_rate, alternative="greater")
    return float(test.pvalue), bool(test.pvalue < alpha)


@dataclass(frozen=True)
class PairedRefusals:
    """The same items checked twice (before and after a change): how many were refused only the
    first time, only the second, both times and neither, with McNemar's exact two-sided p-value."""

    only_first: int
    only_second: int
    both: int
    neither: int
    p_value: float


def mcnemar_exact(first: Sequence[bool], second: Sequence[bool]) -> PairedRefusals:
    """McNemar's exact test for paired yes/no outcomes on the same items. Items refused both times
    or neither time say nothing about a change; under "no change" each discordant item is equally
    likely to fall either way, so `only_second` is Binomial(discordant, 1/2)."""
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    if first.shape != second.shape:
        raise ValueError("the two checks must cover the same items")
    only_first, only_second = int((first & ~second).sum()), int((~first & second).sum())
    discordant = only_first + only_second
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(only_second, discordant).pvalue)
    return PairedRefusals(
        only_first, only_second, int((first & second).sum()), int((~first & ~second).sum()), p_value
    )


def class_share_test(
    reference: Sequence, current: Sequence, classes: Sequence | None = None
) -> pd.DataFrame:
    """Shares of each predicted class in two periods and a chi-square test of homogeneity
    (the p-value in the frame's `attrs`). A label-free signal: if the mix of answers moves,
    either the inputs or the model moved."""
    reference, current = pd.Series(reference), pd.Series(current)
    classes = list(classes) if classes is not None else sorted(set(reference) | set(current))
    counts = np.array(
        [
            [int((reference == c).sum()) for c in classes],
            [int((current == c).sum()) for c in classes],
        ]
    )
    keep = counts.sum(axis=0) > 0
    p_value = float(stats.chi2_contingency(counts[:, keep]).pvalue) if keep.sum() > 1 else 1.0
    frame = pd.DataFrame(
        {
            "class": classes,
            "reference_share": counts[0] / counts[0].sum(),
            "current_share": counts[1] / counts[1].sum(),
        }
    ).set_index("class")
    frame.attrs["p_value"] = p_value
    return frame


def paired_class_shift(
    first: Sequence, second: Sequence, draws: int = 100_000, seed: int = 0
) -> tuple[int, float]:
    """(number of items whose answer changed, p-value): did the mix of answers move between two
    checks of the same items? McNemar's idea for any number of classes: under "no change" each
    item's two answers are exchangeable, so each changed item is equally likely to have changed
    the other way. The statistic is the sum over classes of (count in first - count in second)^2;
    the p-value is the share of the 2^n swaps of the n changed items that give at least the
    observed statistic, all of them when n <= 16, else `draws` random ones (seeded). With two
    classes it is McNemar's exact two-sided test."""
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape:
        raise ValueError("the two checks must cover the same items")
    changed = first != second
    classes = np.unique(np.concatenate([first, second]))
    # Each changed item moves the count difference (first - second) by +1 at its first answer
    # and -1 at its second; a swap flips that vector's sign.
    moves = (first[changed, None] == classes).astype(int) - (second[changed, None] == classes)
    n = len(moves)
    if n == 0:
        return 0, 1.0
    observed = float((moves.sum(axis=0) ** 2).sum())
    if n <= 16:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], size=(draws, n))
    statistics = ((signs @ moves) ** 2).sum(axis=1)
    return n, float(np.mean(statistics >= observed - 1e-9))
