from __future__ import annotations

from datatracing.pipeline.bench._memory import rss_figures


def test_growth_compares_medians_of_a_minute_so_one_high_sample_does_not_decide_it() -> None:
    mib = 2**20
    # 100 MB throughout, every 10 s for 20 minutes, with one 300 MB spike at minute 5 and at the end.
    samples = [(float(t), 100 * mib) for t in range(0, 1201, 10)]
    samples[30] = (300.0, 300 * mib)
    samples[-1] = (1200.0, 300 * mib)

    figures = rss_figures({"store": samples})

    assert figures["store_rss_mb_min5"] == 300.0  # the single sample at minute 5
    assert figures["store_rss_mb_end"] == figures["store_rss_mb_peak"] == 300.0
    assert figures["store_rss_growth"] == 1.0


def test_a_run_shorter_than_seven_minutes_reports_no_growth() -> None:
    samples = [(float(t), 2**20) for t in range(0, 400, 10)]

    assert "store_rss_growth" not in rss_figures({"store": samples})
