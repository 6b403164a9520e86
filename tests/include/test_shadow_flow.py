"""Shadow mode end to end in the domain: a gate-passed challenger is scored next to a weak
champion, and once labels mature the sequential test promotes it through the ledger."""

from __future__ import annotations

import datetime as dt
import json

from mlops_core import lake, ledger, registry, sample_data, steps
from mlops_core.config import Settings
from mlops_core.evaluate import GateThresholds
from mlops_core.monitoring import PerformanceThresholds, shadow_evaluation
from mlops_core.schema import load_schema
from mlops_core.shadow import ShadowPolicy
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams

SCHEMA = load_schema("fraud")
MODEL = "fraud_shadow_test"
LOOSE = GateThresholds(
    min_pr_auc=0.0,
    min_recall_at_fpr=0.0,
    relative_margin=1.0,
    min_positives=1,
    max_detectable_drop=100.0,
)
MATURE = PerformanceThresholds(label_delay_days=30)


def test_shadow_scoring_and_evidence_based_promotion(tmp_path, monkeypatch) -> None:
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = LocalStorage(settings.storage_url)
    train_days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(6)]
    for day in train_days:
        sample_data.land_sample_partition(storage, SCHEMA, day, rows=4_000)
    end = train_days[-1]
    ready = steps.extract_window(storage, SCHEMA, end, 6, "b")
    steps.validate_window(storage, SCHEMA, ready, settings=settings, batch_id="b")

    def train_register_gate(params: TrainParams) -> str:
        run = steps.train(
            storage, SCHEMA, end, settings=settings, params=params, experiment="shadow"
        )
        version = steps.register(settings, MODEL, run["model_uri"], run["run_id"])["version"]
        steps.gate(settings, SCHEMA, MODEL, version, LOOSE)
        return version

    at = dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)
    weak = train_register_gate(TrainParams(window_days=6, max_iter=1, max_leaf_nodes=2))
    steps.promote(settings, storage, MODEL, weak, actor="setup", at=at)
    strong = train_register_gate(TrainParams(window_days=6))
    # Gate passed, but @challenger moves only when the version enters shadow.
    assert steps.shadow_candidate(settings, MODEL)[0] is None
    assert steps.enter_shadow(settings, MODEL, strong, at=at)["entered"] is True
    candidate, why = steps.shadow_candidate(settings, MODEL)
    assert candidate is not None and candidate.version == strong, why
    # A later gate-passed version waits: the challenger in shadow is frozen.
    later = train_register_gate(TrainParams(window_days=6, seed=1))
    waiting = steps.enter_shadow(settings, MODEL, later, at=at)
    assert waiting["entered"] is False and f"version {strong} is in shadow" in waiting["reason"]
    assert steps.shadow_candidate(settings, MODEL)[0].version == strong

    live = [end + dt.timedelta(days=i) for i in range(1, 5)]
    for day in live:
        sample_data.land_sample_partition(storage, SCHEMA, day, rows=4_000)
        steps.extract(storage, SCHEMA, day, "s")
        steps.validate(storage, SCHEMA, day, settings=settings, batch_id="s", with_label=False)
        steps.score(storage, SCHEMA, day, settings=settings, model_name=MODEL)
        shadow = steps.score(
            storage,
            SCHEMA,
            day,
            settings=settings,
            model_name=MODEL,
            alias="challenger",
            zone=lake.SHADOW,
        )
        assert shadow.model_version == strong and shadow.output_key.startswith("scored_shadow/")
        assert (
            registry.require(settings.mlflow_tracking_uri, MODEL).version == weak
        )  # shadow changes nothing

    # Labels of the live days must be validated to count: that is when they have matured.
    steps.validate_window(
        storage, SCHEMA, [d.isoformat() for d in live], settings=settings, batch_id="l"
    )
    # Chargebacks take up to 30 days: judged once every live label is final.
    judge_day = live[-1] + dt.timedelta(days=MATURE.label_delay_days)
    result = shadow_evaluation(
        storage,
        SCHEMA,
        judge_day,
        settings=settings,
        model_name=MODEL,
        perf=MATURE,
        policy=ShadowPolicy(min_rows=10_000, min_positives=40, n_boot=200),
    )
    assert result["status"] == "promote", result
    assert result["days"] == [d.isoformat() for d in live]
    assert result["verdict"]["ci_low"] > 0 and result["verdict"]["rows"] == 16_000
    assert registry.require(settings.mlflow_tracking_uri, MODEL).version == strong
    last = ledger.read_ledger(storage, MODEL)[-1]
    assert (last.from_version, last.to_version, last.actor) == (
        weak,
        strong,
        f"shadow evaluation {judge_day}",
    )
    assert storage.exists(f"monitoring/{MODEL}/shadow/dt={judge_day.isoformat()}.json")
    assert result["verdict"]["look"] == 4 and result["sequence"]["first_day"] == str(live[0])
    # A rerun of the promoting day decides the same (its record, not a skip).
    again = shadow_evaluation(
        storage,
        SCHEMA,
        judge_day,
        settings=settings,
        model_name=MODEL,
        perf=MATURE,
        policy=ShadowPolicy(min_rows=10_000, min_positives=40, n_boot=200),
    )
    assert again == json.loads(registry.dumps(result))
    assert len(ledger.read_ledger(storage, MODEL)) == 2  # setup + shadow: promoted once
    # With the challenger now champion there is nothing left to shadow.
    assert steps.shadow_candidate(settings, MODEL)[0] is None
    # The comparison concluded, so the waiting version may now enter shadow.
    assert (
        registry.version_tags(
            settings.mlflow_tracking_uri, registry.ModelRef(MODEL, strong, "", "")
        )[steps.SHADOW_OUTCOME]
        == "promote"
    )
    assert steps.enter_shadow(settings, MODEL, later, at=at)["entered"] is True

    # A comparison that concludes "keep" releases the challenger alias (the champion stays).
    import mlops_core.monitoring as monitoring

    def concluded(*args, **kwargs):
        return {"day": str(judge_day), "status": "keep", "reason": "champion better"}

    monkeypatch.setattr(monitoring, "judge_shadow", concluded)
    kept = shadow_evaluation(
        storage,
        SCHEMA,
        judge_day + dt.timedelta(days=1),
        settings=settings,
        model_name=MODEL,
        perf=MATURE,
        policy=ShadowPolicy(min_rows=10_000, min_positives=40, n_boot=200),
    )
    assert kept["status"] == "keep"
    assert registry.resolve(settings.mlflow_tracking_uri, MODEL, registry.CHALLENGER) is None
    assert registry.require(settings.mlflow_tracking_uri, MODEL).version == strong
