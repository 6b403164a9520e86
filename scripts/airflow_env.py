"""Run Airflow (or the MLflow UI) against the demo's own environment.

    python scripts/airflow_env.py [--data-root PATH] [--use-environment] dags list
    python scripts/airflow_env.py mlflow-ui --port 5000

(`make airflow` starts the live Airflow over the same root: scripts/live_airflow.py.)

The demo owns one data root, `<repo>/.local/` unless `--data-root` says otherwise. AIRFLOW_HOME,
the metadata DB (SQLite), the MLflow store (SQLite + local artifacts), the lake, reports and
incidents all live under it. Inherited lake, MLflow and Airflow settings (`MLOPS_*`, `MLFLOW_*`,
`AIRFLOW_*`, `AWS_ENDPOINT_URL`) are ignored unless `--use-environment` is given, so a shell that
points at the team's MLflow server or bucket is never written to by the demo. The root carries a
marker file; the demo cleans only its own entries inside a marked root and refuses a non-empty
root without the marker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_DATA_ROOT = REPO / ".local"
MARKER = ".mlops-demo-root"
# Everything the demo writes directly under its data root; the only entries it ever removes.
DEMO_ENTRIES = (
    "lake",
    "mlflow",
    "airflow",
    "reports",
    "demo-logs",
    "incidents.jsonl",
    "demo-summary.json",
)
# Inherited settings that choose where data, models, metadata and incidents go, or which
# connections and config the Airflow tasks use.
STORE_PREFIXES = ("MLOPS_", "MLFLOW_", "AIRFLOW_", "_AIRFLOW_")
STORE_NAMES = frozenset({"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"})


class DataRootRefused(RuntimeError):
    """The data root holds files the demo did not create, so it is left untouched."""


def is_store_setting(name: str) -> bool:
    """Whether an environment variable names a lake, MLflow or Airflow setting."""
    return name.startswith(STORE_PREFIXES) or name in STORE_NAMES


def airflow_env(
    data_root: Path | None = None, base: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for an isolated Airflow over ``data_root``; explicit settings in ``base`` win.

    Pure: nothing is created on disk (``migrate`` creates AIRFLOW_HOME).
    """
    env = dict(os.environ if base is None else base)
    root = Path(data_root or env.get("MLOPS_DATA_ROOT") or DEFAULT_DATA_ROOT).resolve()
    home = root / "airflow"
    defaults = {
        "MLOPS_DATA_ROOT": str(root),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::FutureWarning,ignore::UserWarning",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    }
    for key, value in defaults.items():
        if key == "PATH" or key not in env or key == "MLOPS_DATA_ROOT":
            env[key] = value
    return env


def demo_environment(
    inherited: Mapping[str, str], *, data_root: Path | None, use_environment: bool
) -> tuple[dict[str, str], list[str]]:
    """Environment for the demo's Airflow subprocesses, and the inherited names it ignored.

    By default every inherited store setting (see ``is_store_setting``) is dropped, so the lake,
    the MLflow store (SQLite under the root) and AIRFLOW_HOME all sit under ``data_root`` or
    ``<repo>/.local``. With ``use_environment`` the inherited settings are kept and an inherited
    MLOPS_DATA_ROOT is the root unless ``data_root`` is given.

    Args:
        inherited: the caller's environment (``os.environ``), not modified.
        data_root: the ``--data-root`` flag, or None.
        use_environment: the ``--use-environment`` flag.

    Returns:
        The environment, and the sorted names (never values) of the ignored variables.
    """
    if use_environment:
        base, ignored = dict(inherited), []
        root = data_root or inherited.get("MLOPS_DATA_ROOT") or DEFAULT_DATA_ROOT
    else:
        ignored = sorted(name for name in inherited if is_store_setting(name))
        base = {k: v for k, v in inherited.items() if not is_store_setting(k)}
        root = data_root or DEFAULT_DATA_ROOT
    return airflow_env(Path(root), base=base), ignored


def ignored_message(ignored: list[str]) -> str:
    """One line naming the ignored variables (names only: values may hold credentials)."""
    return (
        f"ignoring {len(ignored)} inherited setting(s) (pass --use-environment to honour them): "
        + ", ".join(ignored)
    )


def prepare_data_root(root: Path, *, keep: bool) -> list[Path]:
    """Create and mark the demo's data root, or clean the demo's own entries in a marked one.

    A missing or empty root is created and gets the marker file. A marked root loses only the
    ``DEMO_ENTRIES`` found in it (unless ``keep``); the root itself, the marker and anything else
    inside stay. A symlinked entry is unlinked, never followed.

    Returns:
        The entries removed.

    Raises:
        DataRootRefused: ``root`` is not a directory, or is non-empty without the marker.
    """
    root = Path(root)
    marker = root / MARKER
    if root.exists() and not root.is_dir():
        raise DataRootRefused(f"demo data root {root} exists and is not a directory; refusing")
    if not marker.is_file():
        if root.exists() and any(root.iterdir()):
            hint = " (`make clean` deletes it)" if root.resolve() == DEFAULT_DATA_ROOT else ""
            raise DataRootRefused(
                f"demo data root {root} is not empty and has no {MARKER} marker, so the demo "
                f"did not create it; refusing to clean or write into it. Pass --data-root with "
                f"a new or empty folder, or empty this one yourself{hint}."
            )
        root.mkdir(parents=True, exist_ok=True)
        body = {
            "owner": "mlops demo (scripts/demo.py)",
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "removable_entries": list(DEMO_ENTRIES),
        }
        marker.write_text(json.dumps(body, indent=2) + "\n")
        return []
    if keep:
        return []
    removed = []
    for name in DEMO_ENTRIES:
        target = root / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        else:
            continue
        removed.append(target)
    return removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--data-root", type=Path, help="the demo's data root (default .local/)")
    parser.add_argument(
        "--use-environment",
        action="store_true",
        help="honour inherited MLOPS_*, MLFLOW_*, AIRFLOW_* settings",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="airflow arguments or mlflow-ui")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give an airflow command (e.g. api-server) or mlflow-ui")
    env, ignored = demo_environment(
        os.environ, data_root=args.data_root, use_environment=args.use_environment
    )
    if ignored:
        print(ignored_message(ignored), file=sys.stderr)
    try:
        prepare_data_root(Path(env["MLOPS_DATA_ROOT"]), keep=True)
    except DataRootRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command[0] == "mlflow-ui":
        from mlops_core.config import Settings

        uri = Settings.from_env(env).mlflow_tracking_uri
        cmd = [str(BIN / "mlflow"), "ui", "--backend-store-uri", uri, *args.command[1:]]
    else:
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "airflow"), *args.command]
    return subprocess.call(cmd, env=env)


def migrate(env: dict[str, str]) -> None:
    """Create AIRFLOW_HOME and create or upgrade the metadata DB for ``env``."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
