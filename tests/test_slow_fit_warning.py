"""Issue 21, class 7: a large model that falls back to statsmodels' optimizers says so at the
start (SlowFitWarning naming its size and why), and small ones stay quiet."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from lmmhelpers import fitting
from lmmhelpers.fitting import SlowFitWarning, fit_mixedlm


def _nested(n_groups=6, per=10, seed=0):
    """Groups of ``per`` rows, a random slope and a variance component of 5 levels a group."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=g.size), "a": np.arange(g.size) % 5})
    df["y"] = rng.normal(size=n_groups)[g] + df["x"] + rng.normal(size=g.size)
    return smf.mixedlm("y ~ x", df, groups="g", re_formula="~x", vc_formula={"a": "0 + C(a)"})


def _unsupported(monkeypatch):
    """The engine declines every model, as it declines a too large one."""
    def decline(model):
        raise NotImplementedError("a dense block of 6200 random effects")

    monkeypatch.setattr(fitting, "criterion_for", decline)


def test_a_small_fallback_stays_quiet(monkeypatch):
    _unsupported(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowFitWarning)
        result = fit_mixedlm(_nested())
    assert result.fit_history["method"].iloc[0] == "engine"  # it did fall back


@pytest.mark.parametrize("threshold", [1.0, 1e3, 4e3])
@pytest.mark.parametrize("n_groups", [6, 9])
def test_a_large_fallback_warns_at_the_start_naming_size_and_reason(monkeypatch, threshold,
                                                                     n_groups):
    _unsupported(monkeypatch)
    monkeypatch.setattr(fitting, "SLOW_FIT_OPERATIONS", threshold)
    model = _nested(n_groups)
    cost, n, groups, q = fitting._fallback_cost(model)
    assert (n, groups, q) == (10 * n_groups, n_groups, 2 + 5)
    assert cost == n_groups * (10 * 7**2 + 7**3)
    # the warning comes before statsmodels' optimizers run: as an error it stops the fit
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowFitWarning)
        with pytest.raises(SlowFitWarning, match=rf"dense block of 6200.*{10 * n_groups} rows"
                                                 rf" in {n_groups} group\(s\), up to 7 "
                                                 r"random effects"):
            fit_mixedlm(model)
    # as a warning, it is emitted once and the fit goes on
    with pytest.warns(SlowFitWarning) as record:
        result = fit_mixedlm(model)
    assert sum(issubclass(w.category, SlowFitWarning) for w in record) == 1
    assert result.fit_history["method"].iloc[0] == "engine"


def test_no_warning_when_the_engine_fits_or_statsmodels_is_asked_for(monkeypatch):
    monkeypatch.setattr(fitting, "SLOW_FIT_OPERATIONS", 1.0)
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": np.repeat(np.arange(6), 4), "y": rng.normal(size=24)})
    model = smf.mixedlm("y ~ 1", df, groups="g")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowFitWarning)
        fit_mixedlm(model)  # the engine fits it
        fit_mixedlm(model, engine="statsmodels")  # the user chose the slow path


def test_the_cost_of_a_large_crossed_design_is_above_the_threshold():
    """The issue's 3,100 × 3,100 crossed design (188 s in silence), without building it: one
    group, 6,200 random effects, 6,200 rows."""

    class Big:
        group_labels = [0]
        row_indices = {0: np.arange(6200)}
        k_re = 0
        nobs = 6200

        class exog_vc:  # noqa: N801 - statsmodels' attribute name
            names = ["subj", "item"]
            mats = [[np.empty((0, 3100))], [np.empty((0, 3100))]]

    cost, n, groups, q = fitting._fallback_cost(Big)
    assert q == 6200 and cost > 1e3 * fitting.SLOW_FIT_OPERATIONS


def test_a_large_fallback_shows_its_progress_and_a_small_one_prints_nothing(monkeypatch,
                                                                             capsys):
    _unsupported(monkeypatch)
    model = _nested()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowFitWarning)
        result = fit_mixedlm(model)
        assert capsys.readouterr().err == ""
        monkeypatch.setattr(fitting, "SLOW_FIT_OPERATIONS", 1.0)
        result = fit_mixedlm(model)
    err = capsys.readouterr().err
    history = result.fit_history["method"]
    attempts = history[(history != "engine") & ~history.str.startswith("snap")]
    assert "fit_mixedlm: statsmodels' optimizers" in err
    assert f"{len(attempts)}/" in err  # the attempts are counted
    assert all(f"{method} " in err for method in attempts)  # each named as it ends
