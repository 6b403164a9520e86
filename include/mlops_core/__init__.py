"""Domain logic for the MLOps pipelines: pure Python, no Airflow imports."""
