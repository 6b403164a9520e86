"""The typed settings a use-case spec configures: plain frozen dataclasses with defaults.

They live apart from the modules that use them (training, gates, scoring, monitoring pull in
scikit-learn, pandas and SciPy) so that loading and validating a spec, which the DAG
factory does at parse time, imports nothing heavy. Each task type names the classes it
takes (``mlops_core.tasks``); a spec section's keys are exactly their fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_core.errors import SchemaError, TrainingError

# ----------------------------------------------------------------- binary classification

# Estimator -> the TrainParams fields that are its hyperparameters.
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "hist_gradient_boosting": ("max_iter", "learning_rate", "max_leaf_nodes"),
    "logistic_regression": ("c",),
    "random_forest": ("n_estimators", "max_depth", "min_samples_leaf"),
}
ESTIMATORS = tuple(HYPERPARAMETERS)


@dataclass(frozen=True)
class TrainParams:
    """Training settings. ``estimator`` picks one of ``ESTIMATORS``; each reads its own
    hyperparameters (``max_iter``/``learning_rate``/``max_leaf_nodes`` for gradient boosting,
    ``c`` for logistic regression, ``n_estimators``/``max_depth`` (0: unlimited) and
    ``min_samples_leaf`` for the random forest). Every estimator is class-weighted.
    ``validation_fraction``: the newest share of the training split on which a search's
    candidates are compared (the holdout is never used to choose). ``embargo_days``: the gap
    left between the last training row and the first holdout row (rows in it are used for
    neither), so rows that share a customer's burst do not straddle the split.
    ``max_holdout_fraction`` (0: never): the holdout (the gate's evaluation rows) is extended
    backwards from the newest ``holdout_fraction`` of the window, pooling matured days, until
    it holds ``holdout_positives`` positives (the champion comparison's power needs them),
    or, when that is out of reach, ``min_positives`` (the gate's minimum; one setting with
    it), to at most that share of the window's rows (the training split keeps the rest). Every
    model is cut this way, with or without a champion, so a chain of retrains keeps its pools
    (``train.split_for_gate``)."""

    seed: int = 42
    holdout_fraction: float = 0.2
    embargo_days: int = 0
    holdout_positives: int = 0
    max_holdout_fraction: float = 0.0
    min_positives: int = 30
    validation_fraction: float = 0.2
    window_days: int = 7
    min_positive_labels: int = 20
    estimator: str = "hist_gradient_boosting"
    max_iter: int = 200
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    c: float = 1.0
    n_estimators: int = 200
    max_depth: int = 0
    min_samples_leaf: int = 5
    fpr_target: float = 0.01

    def __post_init__(self) -> None:
        if self.embargo_days < 0:
            raise TrainingError(f"embargo_days {self.embargo_days}: needs >= 0")
        if self.max_holdout_fraction and not (
            self.holdout_fraction <= self.max_holdout_fraction < 1
        ):
            raise TrainingError(
                f"max_holdout_fraction ({self.max_holdout_fraction}) needs holdout_fraction "
                f"({self.holdout_fraction}) <= max_holdout_fraction < 1"
            )
        if self.estimator not in ESTIMATORS:
            raise TrainingError(
                f"unknown estimator {self.estimator!r}; choose one of {', '.join(ESTIMATORS)}"
            )

    def to_dict(self) -> dict:
        return dict(self.__dict__)


COMPARISONS = ("non_inferiority", "superiority")


@dataclass(frozen=True)
class GateEvidence:
    """How much evidence a gate decision needs; shared by every task type's gate settings.

    ``comparison``: ``non_inferiority`` rejects a challenger shown worse than the champion by
    more than ``relative_margin`` of the champion's value; ``superiority`` promotes only one
    shown better on the first gated metric. ``confidence`` is family-wise over the gated
    metrics (Bonferroni); ``n_boot`` paired resamples (seeded by ``bootstrap_seed``); a
    comparison left open (its interval straddles the margin) promotes only when the sample
    would have shown a relative drop of ``max_detectable_drop`` (margin included) inferior
    with probability ``power``; otherwise the verdict is ``insufficient``."""

    comparison: str = "non_inferiority"
    relative_margin: float = 0.05
    confidence: float = 0.95
    n_boot: int = 2_000
    max_detectable_drop: float = 0.5
    bootstrap_seed: int = 0
    power: float = 0.8

    def __post_init__(self) -> None:
        problems = []
        if self.comparison not in COMPARISONS:
            problems.append(f"comparison {self.comparison!r}: choose one of {COMPARISONS}")
        if not 0.5 <= self.confidence < 1:
            problems.append(f"confidence {self.confidence}: needs 0.5 <= confidence < 1")
        if self.n_boot < 2_000:
            problems.append(f"n_boot {self.n_boot}: a gate needs >= 2000 resamples")
        if self.relative_margin < 0 or self.max_detectable_drop <= 0:
            problems.append("relative_margin must be >= 0 and max_detectable_drop > 0")
        if not 0.5 <= self.power < 1:
            problems.append(f"power {self.power}: needs 0.5 <= power < 1")
        if problems:
            raise TrainingError("gate: " + "; ".join(problems))


@dataclass(frozen=True)
class GateThresholds(GateEvidence):
    """The classification gate, judged on a paired, label-stratified bootstrap of the holdout.

    Floors (``min_pr_auc``, ``min_recall_at_fpr``) reject when the challenger's interval lies
    wholly below them. Against the champion, ``comparison`` ``non_inferiority`` rejects when
    the challenger is shown worse by more than ``relative_margin`` of the champion's value;
    ``superiority`` promotes only when it is shown better on PR-AUC. ``confidence`` is
    family-wise over the two metrics. With fewer than ``min_positives`` positives in the
    holdout, or when the holdout could not reveal a relative drop of ``max_detectable_drop``
    (80% power), the verdict is ``insufficient`` and the champion is kept.
    """

    min_pr_auc: float = 0.20
    min_recall_at_fpr: float = 0.30
    fpr_target: float = 0.01
    min_positives: int = 30
    # A column whose rows are not independent (fraud: a compromised card's burst of frauds
    # shares its customer): the bootstrap draws its groups whole. Empty: rows independent.
    cluster_column: str = ""


@dataclass(frozen=True)
class ClassificationScoreParams:
    """``batch_rows``: rows per streamed scoring batch (bounds memory); ``shadow``: also
    score a gate-passed challenger into ``scored_shadow/``."""

    batch_rows: int = 250_000
    shadow: bool = True


# ----------------------------------------------------------------- implicit ranking

# Estimator -> the RecTrainParams fields that are its hyperparameters.
RANKING_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "pure_svd": ("factors", "n_iter"),
    "als": ("factors", "regularization", "als_iterations", "alpha"),
}


@dataclass(frozen=True)
class RecTrainParams:
    """Hyperparameters and the evaluation split of the recommender. ``estimator`` picks one of
    ``RANKING_HYPERPARAMETERS``; both read ``factors`` and ``seed``. PureSVD reads ``n_iter``
    (randomized SVD power iterations); ALS reads ``regularization`` (λ), ``als_iterations``
    (alternating sweeps) and ``alpha`` (confidence ``c = 1 + alpha * x`` of an interaction of
    weight ``x``)."""

    window_days: int = 28
    holdout_days: int = 3  # the shortest holdout; extended up to max_holdout_days when the
    max_holdout_days: int = 14  # newest days hold fewer than min_users_evaluated users
    min_users_evaluated: int = 50
    factors: int = 32
    k: int = 10
    seed: int = 0
    n_iter: int = 7
    estimator: str = "pure_svd"
    regularization: float = 0.05
    als_iterations: int = 15
    alpha: float = 3.0

    def __post_init__(self) -> None:
        if self.estimator not in RANKING_HYPERPARAMETERS:
            raise TrainingError(
                f"unknown recommender estimator {self.estimator!r}; choose one of "
                f"{', '.join(RANKING_HYPERPARAMETERS)}"
            )
        if self.regularization <= 0 or self.alpha < 0 or self.als_iterations < 1:
            raise TrainingError(
                f"ALS needs regularization > 0, alpha >= 0 and als_iterations >= 1; got "
                f"{self.regularization}, {self.alpha} and {self.als_iterations}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecGateThresholds(GateEvidence):
    """The ranking gate, judged on a paired bootstrap over evaluated users.

    The challenger is rejected when shown short of popularity plus ``min_lift_over_popularity``
    (relative) on recall@K or NDCG@K, or (``non_inferiority``) shown worse than the champion
    by more than ``relative_margin`` of its value; ``superiority`` promotes only when shown
    better on recall@K. With fewer than ``min_users_evaluated`` evaluated users, or a sample
    that could not reveal a relative drop of ``max_detectable_drop``, the verdict is
    ``insufficient``."""

    k: int = 10
    min_lift_over_popularity: float = 0.10
    min_coverage: float = 0.0
    min_users_evaluated: int = 50


@dataclass(frozen=True)
class RankingScoreParams:
    """``k`` items per user; ``history_days`` of interactions define recent history and
    seen items; ``users_per_chunk`` bounds memory; scoring waits up to
    ``history_wait_seconds`` for landed history days to be validated."""

    k: int = 10
    history_days: int = 28
    users_per_chunk: int = 50_000
    history_wait_seconds: int = 1_200
    history_poll_seconds: float = 10.0


# ----------------------------------------------------------------- monitoring


@dataclass(frozen=True)
class DriftThresholds:
    """PSI levels per feature; ``features`` limits drift to those columns (empty: every
    numeric and categorical feature).

    A PSI must also exceed what sampling noise alone gives at the day's and the reference's
    row counts: its ``null_quantile_warn`` / ``null_quantile_alert`` quantile under no drift
    (``null_draws`` multinomial draws from the reference's bin shares). On small days that
    bar is above ``psi_warn``/``psi_alert``; on large days the PSI levels decide.

    A moderate shift (between ``psi_warn`` and ``psi_alert``) that persists on the same
    feature for ``persistent_warn_days`` consecutive days escalates to an alert."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_pvalue: float = 0.01  # a numeric feature also needs a significant KS shift to alert
    features: tuple[str, ...] = field(default_factory=tuple)
    null_quantile_warn: float = 0.99
    null_quantile_alert: float = 0.999
    null_draws: int = 2_000
    # A shift that holds is no longer noise: a feature at warn or worse on this many
    # consecutive days of the same champion version alerts (0 or 1: never escalated). Three
    # days outlasts a weekend; each day's warn is already beyond the 99% noise quantile.
    persistent_warn_days: int = 3


@dataclass(frozen=True)
class PerformanceThresholds:
    """Matured-label performance of the champion's version against its own baseline (its
    training holdout pooled with the first ``baseline_days`` matured days it scored).

    ``warn_drop``/``alert_drop`` are relative drops (0.10: 10% below the baseline) of PR-AUC
    or recall at ``fpr_target``; a level needs the one-sided ``confidence`` bound of the
    bootstrap (``n_boot`` replicates) beyond the drop, and ``min_positives`` positives on
    both sides. A shift of the positive rate beyond its ``prevalence_confidence`` interval
    warns."""

    label_delay_days: int = 1
    window_days: int = 3  # matured partitions pooled for a stable PR-AUC
    warn_drop: float = 0.05
    alert_drop: float = 0.10
    fpr_target: float = 0.01
    baseline_days: int = 3
    confidence: float = 0.99  # one-sided, per metric: 0.95 alerted on ~3% of no-drop days
    n_boot: int = 300
    min_positives: int = 20
    prevalence_confidence: float = 0.99
    seed: int = 0
    # A column whose rows' positives are not independent (fraud: a compromised card's burst
    # shares its customer); the bootstrap resamples them together. Empty: rows independent.
    cluster_column: str = ""


@dataclass(frozen=True)
class RetrainPolicy:
    """When an alert becomes a retraining request.

    An alert retrains only when at least ``alert_days_required`` of the last
    ``alert_days_window`` days (today included, the same champion version) were at alert;
    never more than ``max_retrains_per_day`` per calendar day (earlier runs of the day count);
    not within ``cooldown_hours`` of the last retrain's time, nor on the ``cooldown_days``
    days after it; and only when ``min_new_labelled_rows`` matured rows from the breach would
    land in the retrain's training split (the newest ``holdout_fraction`` of its window goes
    to the holdout first)."""

    cooldown_hours: float = 24.0
    min_new_labelled_rows: int = 5_000
    max_retrains_per_day: int = 1
    cooldown_days: int = 1
    alert_days_required: int = 2
    alert_days_window: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.alert_days_required <= self.alert_days_window:
            raise SchemaError(
                f"alert_days_required ({self.alert_days_required}) must be between 1 and "
                f"alert_days_window ({self.alert_days_window})"
            )


@dataclass(frozen=True)
class ShadowPolicy:
    """When the shadow comparison may promote the challenger (``mlops_core.shadow``).

    Decided daily on all matured rows both frozen versions scored, with an always-valid
    one-sided test: the chance of *ever* promoting a challenger that is not better, over any
    number of daily looks, stays below ``1 - confidence``. ``min_effect`` is the absolute
    PR-AUC gain worth detecting: it scales the test's mixture and its power calculation
    (the positives and rows needed to promote such a challenger with ``power``). After
    ``max_looks`` matured days without a promotion the champion is kept. The bootstrap
    (``n_boot`` label-stratified resamples seeded by ``seed``, of whole ``cluster_column``
    groups when set) gives the standard error;
    below ``min_rows`` rows or ``min_positives`` positives nothing is decided."""

    min_rows: int = 10_000
    min_positives: int = 50
    n_boot: int = 400
    confidence: float = 0.95
    seed: int = 0
    min_effect: float = 0.05
    power: float = 0.8
    max_looks: int = 30
    # As the gate's: rows sharing this column's value are resampled together.
    cluster_column: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not 0.5 <= self.confidence < 1:
            problems.append(f"confidence {self.confidence}: needs 0.5 <= confidence < 1")
        if not 0.5 <= self.power < 1:
            problems.append(f"power {self.power}: needs 0.5 <= power < 1")
        if not 0 < self.min_effect < 1:
            problems.append(f"min_effect {self.min_effect}: a PR-AUC gain in (0, 1)")
        if self.max_looks < 1 or self.n_boot < 100:
            problems.append(
                f"max_looks {self.max_looks} and n_boot {self.n_boot}: need >= 1 and >= 100"
            )
        if problems:
            raise SchemaError("shadow: " + "; ".join(problems))
