"""Airflow operators, hooks, sensors and triggers over the mlops_core domain package."""
