"""Tests of lmmhelpers.plots (Agg backend): they draw, label, use ax=, and validate."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402

from lmmhelpers.plots import pvalue_histogram, pvalue_qq, rejection_curve  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def results(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for g in (4, 10):
        frames.append(pd.DataFrame({
            "replicate": np.tile(np.arange(n), 2),
            "method": np.repeat(["normal", "satterthwaite"], n),
            "p_value": np.r_[rng.uniform(size=n) ** 1.5, rng.uniform(size=n)],
            "status": "ok", "converged": True, "boundary": False, "n_groups": g}))
    return pd.concat(frames, ignore_index=True)


def labelled(ax):
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_histogram_band_and_reference():
    res = results()
    fig, ax = plt.subplots()
    out = pvalue_histogram(res[res.n_groups == 4], method="normal", bins=10, ax=ax)
    assert out is ax and labelled(ax)
    heights = [p.get_height() for p in ax.patches if p.get_width() < 0.2]
    assert len(heights) == 10 and sum(heights) == 300
    assert any(line.get_ydata()[0] == 30 for line in ax.get_lines())  # n / bins reference
    with pytest.raises(ValueError, match="method"):
        pvalue_histogram(res)  # two methods: must choose
    with pytest.raises(ValueError, match="bins"):
        pvalue_histogram(res, method="normal", bins=0)


def test_qq_plot_one_series_per_method_with_palette():
    res = results()
    ax = pvalue_qq(res[res.n_groups == 10])
    assert labelled(ax)
    points = [line for line in ax.get_lines() if line.get_marker() not in ("None", None)]
    assert len(points) == 2
    palette = sns.color_palette("colorblind")
    assert tuple(points[0].get_color()[:3]) == pytest.approx(palette[0])
    assert np.max(points[0].get_xdata()) == pytest.approx(-np.log10(1 / 301))
    with pytest.raises(ValueError, match="methods"):
        pvalue_qq(res, methods=["kenward-roger"])


def test_rejection_curve_from_studies_and_from_rates():
    res = results()
    ax = rejection_curve(res, x="n_groups", alpha=0.05)
    assert labelled(ax) and "0.05" in ax.get_ylabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"normal", "satterthwaite"}
    _, ax2 = plt.subplots()
    from lmmhelpers.summaries import rejection_rate

    rates = rejection_rate(res, alpha=[0.01, 0.05], by=["method", "n_groups"])
    assert rejection_curve(rates, ax=ax2) is ax2
    with pytest.raises(ValueError, match="x must"):
        rejection_curve(res, x="n_items")
    with pytest.raises(ValueError, match="alpha"):
        rejection_curve(rates, alpha=0.2)
