"""Use-case specs: the bundled ones load; every mistake is refused on load with the file,
the key and the problem, before any data is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_core.knobs import GateThresholds, RecTrainParams, ShadowPolicy, TrainParams
from mlops_core.spec import SpecError, available_specs, load_spec, parse_spec

BASE = """
name: churn
task: binary_classification
dataset:
  name: subscribers
  id_column: account
  timestamp_column: snapshot_at
  label_column: churned
  label_values: ["no", "yes"]
  positive_label: "yes"
  numeric:
    - {name: tenure_months, min: 0, max: 600}
  categorical: [plan]
model:
  estimator: logistic_regression
  c: 0.5
gate:
  min_pr_auc: 0.1
"""


def _problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="team/churn.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("name", "task", "dataset"),
    [
        ("fraud", "binary_classification", "fraud_transactions"),
        ("recommender", "implicit_ranking", "interactions"),
        ("loans", "binary_classification", "loan_applications"),
    ],
)
def test_bundled_specs_load(name: str, task: str, dataset: str) -> None:
    spec = load_spec(name)

    assert (spec.name, spec.task, spec.dataset.name) == (name, task, dataset)
    assert spec.dag_id("training") == f"{name}_training"
    assert spec.task_type.name == task


def test_a_spec_sets_model_training_gate_and_scoring() -> None:
    spec = parse_spec(BASE, source="team/churn.yaml")

    assert spec.train == TrainParams(estimator="logistic_regression", c=0.5)
    assert spec.gate == GateThresholds(min_pr_auc=0.1)
    assert spec.model_name == "churn_model" and spec.experiment == "churn"
    assert spec.training_schedule is None and spec.train_on_new_data
    assert spec.dataset.positive == "yes"


def test_the_loans_spec_is_unlike_fraud() -> None:
    loans = load_spec("loans")

    assert loans.dataset.timestamp_column == "issued_at"
    assert loans.dataset.derived_features == ()
    assert loans.dataset.label_values == ("repaid", "default")
    assert {"annual_income", "months_since_last_delinquency"} <= loans.dataset.nullable_columns
    assert loans.train.estimator == "logistic_regression"
    assert [c.estimator for c in loans.search] == ["hist_gradient_boosting"]
    assert loans.gate.fpr_target == loans.train.fpr_target == 0.05  # one setting


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("gate:\n  min_pr_auc: 0.1", "gate:\n  min_pr_auc: high"),
            "gate.min_pr_auc: expected a number",
        ),
        (("gate:\n  min_pr_auc: 0.1", "gate:\n  min_prauc: 0.1"), "gate.min_prauc: unknown key"),
        (
            ("  c: 0.5", "  c: 0.5\n  max_iter: 10"),
            "model.max_iter: a hyperparameter of hist_gradient_boosting, not of logistic_regression",
        ),
        (
            ("estimator: logistic_regression", "estimator: xgboost"),
            "model.estimator: unknown estimator 'xgboost'",
        ),
        (
            ("task: binary_classification", "task: regression"),
            "task: unknown task type 'regression'",
        ),
        (("categorical: [plan]", "categorical: [plan, churned]"), "dataset.categorical[1]"),
        (("name: subscribers", "name: ../subscribers"), "dataset.name: invalid name"),
        (
            ("{name: tenure_months, min: 0, max: 600}", "{name: tenure_months, min: 9, max: 1}"),
            "dataset.numeric[0]",
        ),
        (
            ("gate:\n", "scoring:\n  schedule: every day\ngate:\n"),
            "scoring.schedule: expected a cron expression",
        ),
        (
            ("gate:\n", "training:\n  promotion: sometimes\ngate:\n"),
            "training.promotion: expected one of direct, shadow",
        ),
        (
            ("gate:\n", "monitoring:\n  drift: {features: [tenure, plan]}\ngate:\n"),
            "monitoring.drift.features[0]: 'tenure' is not a feature",
        ),
        (
            ("gate:\n", "monitoring:\n  performance: {cluster_column: card}\ngate:\n"),
            "monitoring.performance.cluster_column: 'card' is not a column",
        ),
        (
            ("gate:\n  min_pr_auc: 0.1", "gate:\n  min_pr_auc: 0.1\n  cluster_column: card"),
            "gate.cluster_column: 'card' is not a column",
        ),
        (
            ("gate:\n", "monitoring:\n  shadow: {cluster_column: card}\ngate:\n"),
            "monitoring.shadow.cluster_column: 'card' is not a column",
        ),
        (
            ("gate:\n", "sample_data:\n  generator: magic\ngate:\n"),
            "sample_data.generator: unknown generator 'magic'",
        ),
        (
            ("gate:\n", "monitoring:\n  drift: {psi_warm: 0.1}\ngate:\n"),
            "monitoring.drift.psi_warm: unknown key",
        ),
        (
            ("gate:\n", "monitoring:\n  shadow: {max_look: 30}\ngate:\n"),
            "monitoring.shadow.max_look: unknown key",
        ),
        (
            ("gate:\n", "monitoring:\n  shadow: {min_effect: 0, power: 0.3}\ngate:\n"),
            "monitoring.shadow: shadow: power 0.3: needs 0.5 <= power < 1; min_effect 0",
        ),
        (
            ("gate:\n", "monitoring:\n  policy: {alert_days_required: 4}\ngate:\n"),
            "monitoring.policy: alert_days_required (4) must be between 1 and "
            "alert_days_window (3)",
        ),
        (("name: churn\n", "name: churn\nowners: me\n"), "owners: unknown key"),
        (("  c: 0.5", "  c: 0.5\n  c: 0.7"), "model.c: key given more than once"),
        (
            (
                "gate:\n  min_pr_auc: 0.1",
                "gate:\n  min_pr_auc: 0.1\n  fpr_target: 0.05\ntraining:\n  fpr_target: 0.01",
            ),
            "gate.fpr_target: 0.05 differs from training.fpr_target 0.01",
        ),
        (
            ("dataset:\n", "dataset:\n  kind: interactions\n"),
            "dataset.kind: 'interactions' does not fit task 'binary_classification'",
        ),
    ],
)
def test_mistakes_are_named_by_file_and_key(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in BASE
    message = _problems(BASE.replace(old, new, 1))

    assert "team/churn.yaml" in message
    assert expected in message


def test_every_problem_is_listed_at_once() -> None:
    text = BASE.replace("min_pr_auc: 0.1", "min_pr_auc: high").replace("c: 0.5", "c: x")

    message = _problems(text)

    assert "(2 problems)" in message
    assert "gate.min_pr_auc" in message and "model.c" in message


def test_ranking_refuses_what_it_does_not_have() -> None:
    text = Path(load_spec("recommender").source).read_text()
    bad = (
        text.replace(
            "model:\n  estimator: pure_svd",
            "model:\n  search: [{estimator: pure_svd}]\n  estimator: pure_svd",
        )
        + "\nmonitoring:\n  schedule: '0 6 * * *'\n"
    )

    message = _problems(bad)

    assert "model.search: task implicit_ranking has no model search yet" in message
    assert "monitoring: task implicit_ranking has no monitoring yet" in message


def test_the_shadow_section_sets_the_sequential_test() -> None:
    assert load_spec("fraud").monitoring.shadow == ShadowPolicy(
        min_positives=50, cluster_column="customer_id"
    )
    text = BASE.replace(
        "gate:\n", "monitoring:\n  shadow: {min_effect: 0.03, power: 0.9, max_looks: 45}\ngate:\n"
    )
    shadow = parse_spec(text, source="team/churn.yaml").monitoring.shadow
    assert (shadow.min_effect, shadow.power, shadow.max_looks) == (0.03, 0.9, 45)


def test_a_shared_setting_given_once_applies_to_both() -> None:
    spec = parse_spec(
        BASE.replace("min_pr_auc: 0.1", "min_pr_auc: 0.1\n  fpr_target: 0.05"), source="x.yaml"
    )
    assert spec.train.fpr_target == spec.gate.fpr_target == 0.05

    rec = load_spec("recommender")
    assert isinstance(rec.train, RecTrainParams)
    assert rec.train.k == rec.gate.k


def test_malformed_yaml_names_line_and_column() -> None:
    message = _problems(BASE + "gate: [unclosed\n")

    assert "malformed YAML at line" in message and "column" in message


def test_lookup_refuses_paths_and_names_what_exists(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="neither a spec name"):
        load_spec("../fraud")
    with pytest.raises(SpecError, match=r"no spec named 'nope'.*specs: .*fraud"):
        load_spec("nope")
    with pytest.raises(SpecError, match="no spec file"):
        load_spec(tmp_path / "missing.yaml")


def test_team_specs_come_first_and_a_json_spec_works(tmp_path: Path) -> None:
    import json

    import yaml

    (tmp_path / "churn.json").write_text(json.dumps(yaml.safe_load(BASE)))
    env = {"MLOPS_SPECS_DIR": str(tmp_path)}

    assert available_specs(env)["churn"] == tmp_path / "churn.json"
    assert load_spec("churn", env).dataset.name == "subscribers"
    assert set(available_specs({})) == {"fraud", "recommender", "loans"}


def test_automatic_promotion_defaults_to_promotion_and_shadow_needs_shadow_scoring() -> None:
    import copy
    import json

    fraud = load_spec("fraud")
    assert fraud.promotion == "direct" and fraud.automatic_promotion == "shadow"
    raw = copy.deepcopy(fraud.raw)

    def parse(data):
        return parse_spec(json.dumps(data), source="t.json", fmt="json")

    raw["training"].pop("automatic_promotion")
    assert parse(raw).automatic_promotion == "direct"
    raw["training"]["automatic_promotion"] = "none"
    assert parse(raw).automatic_promotion == "none"
    raw["training"]["automatic_promotion"] = "shadow"
    raw["scoring"]["shadow"] = False
    with pytest.raises(SpecError, match="training.automatic_promotion: 'shadow' needs scoring"):
        parse(raw)
