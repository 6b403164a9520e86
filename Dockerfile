# One image for every Airflow component and the MLflow server: same lock, same code.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11

USER root
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.lock pyproject.toml /opt/mlops/
RUN pip install --no-cache-dir -r /opt/mlops/requirements.lock
COPY --chown=airflow:root include /opt/mlops/include
COPY --chown=airflow:root plugins /opt/mlops/plugins
COPY --chown=airflow:root dags /opt/mlops/dags
RUN pip install --no-cache-dir --no-deps -e /opt/mlops
