"""
# Use cases

Every use case's DAGs, built by one factory from its spec: the bundled specs in
`include/specs/` (fraud, recommender, loans) and a team's own in the folders named by
`MLOPS_SPECS_DIR`. A spec is one YAML file (dataset columns, task type, model, gate,
scoring, monitoring, schedules); adding a use case adds a file there, not code here.

Each DAG's page carries its own runbook (see `mlops_airflow.dag_factory`).
"""

from __future__ import annotations

from mlops_airflow.dag_factory import build_all

globals().update(build_all())
