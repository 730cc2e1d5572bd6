"""Summaries: Wilson and t intervals against known values, judged counts, the CSV round trip, shifts, the chart."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from interp.evaluation.choice import ChoiceScore
from interp.evaluation.plot import plot_traits
from interp.evaluation.summary import (
    TraitSummary,
    add_shift,
    read_summary_csv,
    summarize_choice,
    summarize_judged,
    t_interval,
    wilson_interval,
    write_summary_csv,
)


def test_wilson_known_values():
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.23659309, 0.76340691), abs=1e-6)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(1.959964**2 / (20 + 1.959964**2), abs=1e-6)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_t_interval_matches_scipy():
    values = [0.2, 0.5, 0.4, 0.9]
    ref = stats.t.interval(0.95, 3, loc=sum(values) / 4, scale=stats.sem(values))
    assert t_interval(values) == pytest.approx(ref)
    assert all(math.isnan(x) for x in t_interval([0.3]))


def test_summarize_choice():
    scores = [ChoiceScore("a", f"a.c{i}", p, (0.0, 0.0), "likelihood") for i, p in enumerate([0.2, 0.4, 0.9])]
    scores.append(ChoiceScore("b", "b.c0", 0.7, (0.0, 0.0), "likelihood"))
    [a, b] = summarize_choice(scores)
    assert (a.preference, a.n, a.ci_kind) == ("a", 3, "t_items") and a.rate == pytest.approx(0.5)
    ref = stats.t.interval(0.95, 2, loc=0.5, scale=stats.sem([0.2, 0.4, 0.9]))
    assert (a.ci_low, a.ci_high) == pytest.approx((max(0, ref[0]), min(1, ref[1])))
    assert b.n == 1 and math.isnan(b.ci_low)


def test_summarize_judged_counts_and_seed_interval():
    rows = (
        [("s", 0, 1.0, False)] * 3
        + [("s", 0, 0.0, False)]
        + [("s", 1, 1.0, False)]
        + [("s", 1, 0.0, False)] * 3
        + [("s", 0, None, True)] * 2
        + [("s", 1, None, False)]
    )
    [s] = summarize_judged(rows)
    assert (s.n, s.rate, s.dropped_incoherent, s.undefined, s.n_seeds) == (8, 0.5, 2, 1, 2)
    assert (s.ci_low, s.ci_high) == pytest.approx(wilson_interval(4, 8))
    assert (s.seed_ci_low, s.seed_ci_high) == pytest.approx(t_interval([0.75, 0.25]))
    [single] = summarize_judged([("t", 0, 1.0, False)])
    assert single.seed_ci_low is None and single.ci_kind == "wilson_samples"


def test_csv_round_trip_and_shift(tmp_path):
    run = [
        TraitSummary("a", 10, 0.6, 0.3, 0.8, "wilson_samples", 0.5, 0.7, 3, 2, 1),
        TraitSummary("b", 10, 0.1, 0.0, 0.4, "wilson_samples"),
    ]
    base = [TraitSummary("a", 10, 0.25, 0.1, 0.5, "wilson_samples")]
    shifted = add_shift(run, base)
    assert shifted[0].shift_pp == pytest.approx(35.0) and shifted[1].shift_pp is None
    path = write_summary_csv(shifted, tmp_path / "summary.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:5] == ["preference", "n", "rate", "ci_low", "ci_high"]
    assert {"ci_kind", "seed_ci_low", "seed_ci_high", "dropped_incoherent", "undefined", "shift_pp"} <= set(header)
    assert read_summary_csv(path) == shifted
    assert not (tmp_path / "summary.csv.tmp").exists()


def test_plot_writes_png(tmp_path):
    run = [TraitSummary("a", 10, 0.6, 0.3, 0.8, "t_items"), TraitSummary("b", 10, 0.1, 0.0, 0.4, "t_items")]
    other = [TraitSummary("a", 10, 0.2, 0.1, 0.3, "t_items"), TraitSummary("c", 1, 0.5, math.nan, math.nan, "t_items")]
    path = plot_traits({"base": other, "tuned": run}, tmp_path / "bars.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
