"""lmmhelpers.book: what exists only for this book's own scenarios.

The library (``lmmhelpers``) is what a reader installs for their own data; this layer holds
the book's scenarios and stored studies, each defined once, so that the chapters and the
scripts that regenerate the stored data (``scripts/``, thin command-line wrappers over this
package) use the same definitions. The library never imports it.

- ``lmmhelpers.book.repository``: the repository's data, the seed's table, the committed
  R reference cases;
- ``lmmhelpers.book.scenarios``: the seed's two-input design and its analyses, the crossed
  one-group model, the nested random-slopes design, the between-within rows of a study;
- ``lmmhelpers.book.studies``, ``lmmhelpers.book.group_count``,
  ``lmmhelpers.book.crossed``: every stored study's specification and loader;
- ``lmmhelpers.book.dof``: the degrees-of-freedom chapter's validation against R, its df over
  designs and along a boundary path, and the rates of its stored studies;
- ``lmmhelpers.book.dietox``: the dietox data (read from statsmodels) and their R reference;
- ``lmmhelpers.book.null_pvalues``: the null-p-value chapter's stored studies of the
  question's design and the stored run of the question's own code;
- ``lmmhelpers.book.first_model``: the first chapter's design (a between-group treatment and a
  within-group covariate), its OLS and mixed-model fits, and the REML/ML profile;
- ``lmmhelpers.book.repeated_measures``: the seed's split-plot design, the answer's
  variance-components model, the classical repeated-measures ANOVA and Satterthwaite's df
  computed two ways;
- ``lmmhelpers.book.random_slopes``: the random-slopes chapter's studies (intercept-only and
  random-slope models on the same data sets, the slope variance's LRT);
- ``lmmhelpers.book.kernels``: statsmodels' own optimizers run under several OpenBLAS
  kernels, stored with the machine they ran on (``data/kernels/``);
- ``lmmhelpers.book.runner``: one seeded runner for replicate loops;
- ``lmmhelpers.book.pages``: glue and timing helpers of the chapters.
"""

from lmmhelpers.book.crossed import (
    LRT_NULL_STUDY,
    OPTIMIZER_STUDY,
    OPTIMIZERS,
    item_f_test,
    item_means_studies,
    optimizer_rows,
)
from lmmhelpers.book.dietox import (
    DIETOX_ANSWER_FORMULA,
    DIETOX_FORMULA,
    DOSES,
    dietox_agreement,
    dietox_answer_calibration,
    dietox_answer_model,
    dietox_answer_null_draws,
    dietox_model,
    dietox_path,
    dietox_reference,
    load_dietox,
)
from lmmhelpers.book.dof import (
    DOF_METHODS,
    boundary_path,
    df_by_groups,
    dof_rates,
    dof_table,
    r_validation,
)
from lmmhelpers.book.first_model import (
    FIRST_MODEL_FORMULA,
    first_model_data,
    first_model_replicate,
    profile_loglik,
)
from lmmhelpers.book.group_count import (
    boundary_levels,
    boundary_probability,
    by_fit,
    compact,
    gee_level,
    gee_ratio,
    group_count_index,
    load_group_count,
    z_level,
)
from lmmhelpers.book.kernels import KERNEL_PROBES, kernel_runs
from lmmhelpers.book.null_pvalues import (
    NULL_PVALUES_METHODS,
    QUESTION_CODE_RUN,
    QuestionCodeRun,
    mislabel_variances,
    null_pvalues_studies,
)
from lmmhelpers.book.pages import (
    ClaimError,
    PairedComparison,
    best_time,
    claim,
    glue_value,
    glue_values,
    paired_rejections,
    plain,
    rate_text,
    time_corrections,
)
from lmmhelpers.book.planning import (
    crossed_power,
    crossed_se,
    group_means_power,
)
from lmmhelpers.book.random_slopes import (
    AggregateTests,
    ModelTests,
    SlopeVarianceLRT,
    crossed_slope_analyses,
    intercept_only_z_rate,
    nested_slope_analyses,
    selected_tests,
    slope_studies,
    split_model,
)
from lmmhelpers.book.repeated_measures import (
    SPLIT_PLOT_FORMULA,
    anova_against_lmm,
    answer_fits,
    answer_model,
    complete_participants,
    greenhouse_geisser_epsilon,
    satterthwaite_two_ways,
    split_plot_anova,
    split_plot_levels,
    vc_reml_criterion,
)
from lmmhelpers.book.repository import (
    fit_reference,
    reference,
    reference_cases,
    reference_model,
    repository_root,
    seed003_table,
)
from lmmhelpers.book.runner import replicate_rng, run_seeded
from lmmhelpers.book.scenarios import (
    CROSSED_SLOPE_VC,
    CROSSED_VC,
    INPUT_TERM,
    TWO_INPUT_METHODS,
    between_within_rows,
    crossed_lrt,
    crossed_model,
    crossed_one_group,
    design_between_within_df,
    nested_slopes,
    null_pvalue_study,
    pvalue_study,
    square_crossed,
    two_input_analyses,
)
from lmmhelpers.book.studies import (
    DOF_EFFECTS,
    WITHIN_TERMS,
    StoredStudy,
    between_within_df_of,
    dof_studies,
    group_count_cells,
    group_count_study,
    seed_sweep_study,
    seed_sweeps,
)

__all__ = [
    "SPLIT_PLOT_FORMULA",
    "anova_against_lmm",
    "answer_fits",
    "answer_model",
    "complete_participants",
    "greenhouse_geisser_epsilon",
    "satterthwaite_two_ways",
    "split_plot_anova",
    "split_plot_levels",
    "vc_reml_criterion",
    "AggregateTests",
    "ModelTests",
    "SlopeVarianceLRT",
    "intercept_only_z_rate",
    "crossed_slope_analyses",
    "nested_slope_analyses",
    "selected_tests",
    "split_model",
    "ClaimError",
    "PairedComparison",
    "claim",
    "paired_rejections",
    "rate_text",
    "CROSSED_SLOPE_VC",
    "CROSSED_VC",
    "DIETOX_FORMULA",
    "DOF_EFFECTS",
    "DOF_METHODS",
    "DOSES",
    "FIRST_MODEL_FORMULA",
    "INPUT_TERM",
    "LRT_NULL_STUDY",
    "NULL_PVALUES_METHODS",
    "OPTIMIZERS",
    "OPTIMIZER_STUDY",
    "QUESTION_CODE_RUN",
    "QuestionCodeRun",
    "TWO_INPUT_METHODS",
    "DIETOX_ANSWER_FORMULA",
    "dietox_answer_calibration",
    "dietox_answer_model",
    "dietox_answer_null_draws",
    "WITHIN_TERMS",
    "StoredStudy",
    "best_time",
    "between_within_df_of",
    "between_within_rows",
    "boundary_path",
    "by_fit",
    "compact",
    "crossed_lrt",
    "crossed_model",
    "crossed_one_group",
    "crossed_power",
    "crossed_se",
    "design_between_within_df",
    "dietox_agreement",
    "dietox_model",
    "dietox_path",
    "df_by_groups",
    "dietox_reference",
    "dof_rates",
    "dof_studies",
    "dof_table",
    "first_model_data",
    "first_model_replicate",
    "boundary_levels",
    "boundary_probability",
    "gee_level",
    "gee_ratio",
    "fit_reference",
    "glue_value",
    "glue_values",
    "group_count_cells",
    "group_count_index",
    "group_count_study",
    "group_means_power",
    "item_f_test",
    "item_means_studies",
    "KERNEL_PROBES",
    "kernel_runs",
    "load_dietox",
    "load_group_count",
    "mislabel_variances",
    "nested_slopes",
    "null_pvalue_study",
    "null_pvalues_studies",
    "optimizer_rows",
    "plain",
    "profile_loglik",
    "r_validation",
    "pvalue_study",
    "reference",
    "reference_cases",
    "reference_model",
    "repository_root",
    "replicate_rng",
    "run_seeded",
    "seed003_table",
    "seed_sweep_study",
    "seed_sweeps",
    "slope_studies",
    "square_crossed",
    "time_corrections",
    "two_input_analyses",
    "z_level",
]
