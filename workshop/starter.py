"""Starter script of the 3-hour workshop "Honest tests for mixed models in Python".

Run it cell by cell (the ``# %%`` cells of VS Code, Spyder, PyCharm or JupyterLab with
jupytext), typing along where a cell says LIVE, or all at once with ``python starter.py``.
It needs the book's environment (``pip install -r requirements.txt`` in the book's
repository) and reads ``workshop_data.csv`` from its own folder. Every random draw is seeded:
everyone in the room gets the same numbers.
"""

# %% Session 1: the puzzle. One null data set, fitted as statsmodels' documentation does.
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

import lmmhelpers as lh

pd.set_option("display.width", 110)

N_GROUPS = 3  # groups per input: the few-groups case of the puzzle
N_PER_GROUP = 5  # samples per group
N_SIM = 200  # null data sets in the live loops (the book uses thousands)
SEED = 2026

data = lh.two_input_design(N_GROUPS, N_PER_GROUP, effect=0.0, seed=SEED)
model = smf.mixedlm("output ~ input", data, groups="group")
fit = lh.fit_mixedlm(model)  # the same REML optimum as lme4, checked
print(fit.summary())  # the z test of statsmodels' summary


# %% Session 1, LIVE: many null data sets. How often is p < 0.05?
def null_pvalues(ddf):
    """p-values of the input effect over N_SIM null data sets, with one df method."""
    rng = np.random.default_rng(SEED)
    out = []
    for _ in range(N_SIM):
        d = lh.two_input_design(N_GROUPS, N_PER_GROUP, seed=int(rng.integers(2**31)))
        f = lh.fit_mixedlm(smf.mixedlm("output ~ input", d, groups="group"))
        out.append(lh.coef_table(f, ddf=ddf).iloc[1]["P>|t|"])
    return np.array(out)


p_z = null_pvalues("normal")
print(f"z test: {np.mean(p_z < 0.05):.3f} of {N_SIM} null data sets reject at 5 %")

# %% Session 2: the remedy. The same fit, tested with small-sample degrees of freedom.
for ddf in ("normal", "satterthwaite", "kenward-roger"):
    print(lh.coef_table(fit, ddf=ddf).round(4).iloc[[1]].assign(method=ddf))

# %% Session 2, LIVE: calibrate the test on this design before trusting it.
rates = lh.calibrate(fit, terms=["input[T.input_1]"], n_sim=N_SIM, seed=SEED)
print(rates[["method", "rate", "lower", "upper", "n_used", "n_boundary"]])

# %% Session 3: a real table from a CSV (the repeated-measures question of the book).
table = pd.read_csv(Path(__file__).with_name("workshop_data.csv"))
print(table.head())
rm_model = smf.mixedlm(
    "dependent_var ~ C(Condition_1) * C(Condition_2)", table, groups="participant_ID"
)
rm_fit = lh.fit_mixedlm(rm_model)
print("singular fit:", rm_fit.boundary)

# %% Session 3, LIVE: type III tests with Kenward-Roger and Satterthwaite df. Same F, other df.
print(lh.anova_table(rm_fit, ddf="kenward-roger"))
print(lh.anova_table(rm_fit, ddf="satterthwaite"))

# %% Session 3: the data are complete and balanced, and the fit is singular. The book's advice
# (chapter "Repeated measures", section "Which analysis to report at a singular fit"): report
# the split-plot ANOVA, whose strata give exact tests here.
from lmmhelpers.book import split_plot_anova  # noqa: E402

print(split_plot_anova(table))
