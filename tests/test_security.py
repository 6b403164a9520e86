"""No secret in tracked files; security lint clean on the code that runs in production."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----"),
    "password literal": re.compile(
        r"""(?i)\b(password|secret|passwd)\s*[:=]\s*["'][^"'${}\s]{6,}["']"""
    ),
    "credentials in a URL": re.compile(r"://[A-Za-z0-9_.-]+:(?!\$\{)[^@/\s:]{6,}@"),
    "package index URL": re.compile(r"https?://[^\s]*/simple/?"),
}
ALLOWED = {"tests/test_security.py"}


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.splitlines() if f not in ALLOWED]


def test_no_secrets_in_tracked_files() -> None:
    found = []
    for name in _tracked():
        path = REPO / name
        if path.suffix in {".png", ".jpg"} or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for label, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                found.append(f"{name}: {label}: {match.group(0)[:60]}")
    assert not found, "\n".join(found)


def test_no_env_file_or_uv_lock_is_tracked() -> None:
    tracked = set(_tracked())
    assert ".env" not in tracked and not any(f.endswith("uv.lock") for f in tracked)


def test_security_lint_is_clean_on_production_code() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run(
        [str(ruff), "check", "--select", "S", "include", "plugins", "dags"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
