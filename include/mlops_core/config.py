"""Settings from environment variables, with defaults that run locally (see .env.example)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Where data, models and metadata live.

    Attributes:
        data_root: local directory for the demo lake, MLflow store, reports and incidents.
        storage_url: the lake: a local directory or ``s3://bucket/prefix``.
        s3_endpoint_url: S3 API endpoint (MinIO, moto); None means AWS.
        mlflow_tracking_uri: tracking + registry store.
        mlflow_artifact_location: where new experiments keep artifacts (None: server default).
    """

    data_root: Path
    storage_url: str
    s3_endpoint_url: str | None
    mlflow_tracking_uri: str
    mlflow_artifact_location: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_root = Path(env.get("MLOPS_DATA_ROOT") or _REPO_ROOT / ".local").resolve()
        return cls(
            data_root=data_root,
            storage_url=env.get("MLOPS_STORAGE_URL") or str(data_root / "lake"),
            s3_endpoint_url=env.get("MLOPS_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL"),
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI")
            or f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}",
            mlflow_artifact_location=env.get("MLOPS_MLFLOW_ARTIFACT_LOCATION")
            or (
                None
                if env.get("MLFLOW_TRACKING_URI")
                else (data_root / "mlflow" / "artifacts").as_uri()
            ),
        )

    @property
    def reports_dir(self) -> Path:
        return self.data_root / "reports"

    @property
    def incidents_log(self) -> Path:
        return self.data_root / "incidents.jsonl"
