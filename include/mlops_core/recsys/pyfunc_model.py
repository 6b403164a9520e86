"""MLflow "model from code" for the recommender: logged by path, so loading it unpickles
nothing. ``mlflow.pyfunc.load_model(path).predict(frame_with_user_id, params={"k": 20})``,
with ``path`` from ``registry.download_model``, returns user_id, rank, item_id, score, source
(``model``, or ``popularity`` for users the model has never seen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from mlops_core.recsys.model import FactorModel, recommend_known


class TopKRecommender(PythonModel):
    def load_context(self, context: Any) -> None:
        self.model = FactorModel.load(Path(context.artifacts["model_dir"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        k = int((params or {}).get("k") or self.model.meta.get("param_k", 10))
        return recommend_known(self.model, model_input["user_id"].astype(str).tolist(), k)


mlflow.models.set_model(TopKRecommender())
