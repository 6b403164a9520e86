-- The MLflow backend store lives beside the Airflow metadata DB in the same server.
CREATE DATABASE mlflow;
