"""The soak benchmark's verdict: slopes after the warm-up window, growth over the run."""

from __future__ import annotations

import pytest

from facegate.bench.soak_bench import slope_per_minute, verdict


def sample(t: float, rss: float, p95: float) -> dict[str, float]:
    return {"t_s": t, "rss_mb": rss, "identify_ms_p95": p95, "stream_ms_p95": 30.0}


def test_slope_is_per_minute() -> None:
    assert slope_per_minute([0, 60, 120], [100, 110, 120]) == pytest.approx(10.0)
    assert slope_per_minute([0], [5]) == 0.0


def test_flat_run_is_stable_even_after_a_warm_up_jump() -> None:
    samples = [sample(30, 400, 900)] + [sample(60 + 30 * i, 700, 100) for i in range(10)]
    result = verdict(samples)
    assert result["windows_fitted"] == 10
    assert result["rss_mb_slope_mb_per_min"] == pytest.approx(0.0, abs=1e-6)
    assert result["stable"] is True


def test_growing_memory_is_not_stable() -> None:
    samples = [sample(30 * i, 500 + 10 * i, 100) for i in range(1, 12)]
    result = verdict(samples)
    assert result["rss_mb_slope_mb_per_min"] == pytest.approx(20.0)
    assert result["rss_mb_growth_over_run_pct"] > 5.0
    assert result["stable"] is False
