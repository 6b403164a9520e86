"""One production-shaped stack per test session (see cluster.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.integration.cluster import AirflowCluster


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, moto_s3_endpoint: str
) -> Iterator[AirflowCluster]:
    bucket = f"mlops-it-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_s3_endpoint).create_bucket(Bucket=bucket)
    stack = AirflowCluster(tmp_path_factory.mktemp("cluster"), moto_s3_endpoint, bucket)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
