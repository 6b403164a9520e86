"""`make demo` touches only what it owns: inherited store settings are ignored, and a data root
is cleaned only when it carries the demo's marker, and then only the demo's own entries.
No Airflow runs here: the environment and the data-root preparation are plain functions."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import airflow_env  # noqa: E402
import demo  # noqa: E402

from mlops_core.config import Settings  # noqa: E402

TEAM_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/engineer",
    "MLOPS_DATA_ROOT": "/srv/team-data",
    "MLOPS_STORAGE_URL": "s3://team-bucket/prod",
    "MLOPS_S3_ENDPOINT_URL": "https://s3.team.example",
    "MLOPS_INCIDENT_WEBHOOK_URL": "https://hooks.team.example/secret-token",
    "MLFLOW_TRACKING_URI": "http://mlflow.team.example:5000",
    "MLFLOW_TRACKING_TOKEN": "secret-token",
    "AIRFLOW_HOME": "/opt/airflow",
    "AIRFLOW_CONN_MLFLOW_DEFAULT": '{"conn_type": "mlflow", "host": "http://mlflow.team.example"}',
    "AWS_ENDPOINT_URL": "https://s3.team.example",
}
STORE_NAMES = sorted(k for k in TEAM_ENV if k not in {"PATH", "HOME"})


def _assert_isolated_under(env: dict[str, str], root: Path) -> None:
    settings = Settings.from_env(env)
    assert Path(env["MLOPS_DATA_ROOT"]) == root
    assert settings.storage_url == str(root / "lake")
    assert settings.s3_endpoint_url is None
    assert settings.mlflow_tracking_uri == f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    assert settings.mlflow_artifact_location == (root / "mlflow" / "artifacts").as_uri()
    assert env["AIRFLOW_HOME"] == str(root / "airflow")
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{root / 'airflow' / 'airflow.db'}"
    )
    assert "AIRFLOW_CONN_MLFLOW_DEFAULT" not in env
    assert "MLOPS_INCIDENT_WEBHOOK_URL" not in env
    assert "MLFLOW_TRACKING_TOKEN" not in env
    leaked = {TEAM_ENV[k] for k in STORE_NAMES} & set(env.values())
    assert not leaked


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _fill_demo_entries(root: Path) -> None:
    for name in ("lake", "mlflow", "airflow", "reports", "demo-logs"):
        (root / name / "sub").mkdir(parents=True)
        (root / name / "sub" / "file.txt").write_text(name)
    (root / "incidents.jsonl").write_text("{}\n")
    (root / "demo-summary.json").write_text("{}")


def test_inherited_store_settings_are_ignored_by_default() -> None:
    env, ignored = demo.demo_environment(TEAM_ENV, data_root=None, use_environment=False)

    _assert_isolated_under(env, (REPO / ".local").resolve())
    assert ignored == STORE_NAMES
    assert env["HOME"] == "/home/engineer"  # unrelated variables pass through
    assert env["PATH"].endswith("/usr/bin")


def test_data_root_flag_wins_and_environment_is_still_ignored(tmp_path: Path) -> None:
    env, ignored = demo.demo_environment(TEAM_ENV, data_root=tmp_path, use_environment=False)

    _assert_isolated_under(env, tmp_path.resolve())
    assert ignored == STORE_NAMES
    assert not (tmp_path / "airflow").exists()  # building the env creates nothing


def test_ignored_line_names_variables_never_values() -> None:
    _, ignored = demo.demo_environment(TEAM_ENV, data_root=None, use_environment=False)
    line = demo.ignored_message(ignored)

    assert all(name in line for name in STORE_NAMES)
    assert all(value not in line for value in TEAM_ENV.values())


def test_use_environment_honours_inherited_settings(tmp_path: Path) -> None:
    inherited = {**TEAM_ENV, "MLOPS_DATA_ROOT": str(tmp_path)}
    env, ignored = demo.demo_environment(inherited, data_root=None, use_environment=True)

    assert ignored == []
    assert Path(env["MLOPS_DATA_ROOT"]) == tmp_path.resolve()
    assert Settings.from_env(env).storage_url == "s3://team-bucket/prod"
    assert Settings.from_env(env).mlflow_tracking_uri == "http://mlflow.team.example:5000"
    assert env["AIRFLOW_HOME"] == "/opt/airflow"


def test_demo_and_ui_resolve_the_same_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make airflow-ui` / `make mlflow-ui` go through scripts/airflow_env.py main."""
    for key, value in TEAM_ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "demo-root"
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        airflow_env.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0
    )

    assert airflow_env.main(["--data-root", str(root), "mlflow-ui", "--port", "5000"]) == 0
    ((cmd, env),) = calls
    store = f"sqlite:///{root.resolve() / 'mlflow' / 'mlflow.db'}"
    assert cmd[-4:] == ["--backend-store-uri", store, "--port", "5000"]
    _assert_isolated_under(env, root.resolve())
    assert (root / airflow_env.MARKER).is_file()


def test_new_root_is_created_and_marked(tmp_path: Path) -> None:
    root = tmp_path / "nested" / "demo"

    assert demo.prepare_data_root(root, keep=False) == []
    assert (root / airflow_env.MARKER).is_file()
    assert [p.name for p in root.iterdir()] == [airflow_env.MARKER]


def test_empty_existing_root_is_adopted(tmp_path: Path) -> None:
    assert demo.prepare_data_root(tmp_path, keep=False) == []
    assert (tmp_path / airflow_env.MARKER).is_file()


@pytest.mark.parametrize("keep", [False, True])
def test_unmarked_non_empty_root_is_refused_and_untouched(tmp_path: Path, keep: bool) -> None:
    _fill_demo_entries(tmp_path)
    (tmp_path / "thesis.tex").write_text("years of work")
    before = _tree_hashes(tmp_path)

    with pytest.raises(demo.DataRootRefused, match="no .mlops-demo-root marker"):
        demo.prepare_data_root(tmp_path, keep=keep)

    assert _tree_hashes(tmp_path) == before
    assert not (tmp_path / airflow_env.MARKER).exists()


def test_main_exits_non_zero_on_a_foreign_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    before = _tree_hashes(tmp_path)
    monkeypatch.setattr(demo, "migrate", lambda env: pytest.fail("the demo went on"))

    assert demo.main(["--data-root", str(tmp_path)]) == 2

    assert "refusing" in capsys.readouterr().err
    assert _tree_hashes(tmp_path) == before


def test_marked_root_loses_only_the_demo_entries(tmp_path: Path) -> None:
    root = tmp_path / "root"
    demo.prepare_data_root(root, keep=False)
    marker = (root / airflow_env.MARKER).read_bytes()
    _fill_demo_entries(root)
    (root / "demo-logs" / "sub" / "file.txt").unlink()
    (root / "foreign.txt").write_text("not the demo's")
    (root / "other").mkdir()
    (root / "other" / "data.csv").write_text("a,b\n")
    foreign = _tree_hashes(root / "other")
    # A demo entry that is a symlink is unlinked, never followed.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside")
    (root / "demo-logs").rename(root / "logs-before")
    (root / "demo-logs").symlink_to(outside, target_is_directory=True)

    removed = demo.prepare_data_root(root, keep=False)

    assert sorted(p.name for p in removed) == sorted(airflow_env.DEMO_ENTRIES)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [airflow_env.MARKER, "foreign.txt", "other", "logs-before"]
    )
    assert (root / airflow_env.MARKER).read_bytes() == marker
    assert (root / "foreign.txt").read_text() == "not the demo's"
    assert _tree_hashes(root / "other") == foreign
    assert (outside / "keep.txt").read_text() == "outside"


def test_keep_removes_nothing(tmp_path: Path) -> None:
    demo.prepare_data_root(tmp_path, keep=False)
    _fill_demo_entries(tmp_path)
    (tmp_path / "foreign.txt").write_text("not the demo's")
    before = _tree_hashes(tmp_path)

    assert demo.prepare_data_root(tmp_path, keep=True) == []

    assert _tree_hashes(tmp_path) == before


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")

    with pytest.raises(demo.DataRootRefused, match="not a directory"):
        demo.prepare_data_root(target, keep=False)
    assert target.read_text() == "x"
