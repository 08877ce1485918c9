"""Settings come from the environment; a missing required variable stops the process and is named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "EGRESSUI_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "egressui.settings"
    env["EGRESSUI_VAR_DIR"] = "/tmp/egressui-settings-test"
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


class SettingsFromEnvironmentTests:
    def test_debug_runs_on_embedded_defaults(self):
        result = _check({"DJANGO_DEBUG": "true"})
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize(
        ("env", "named"),
        [
            ({}, "DJANGO_SECRET_KEY"),
            ({"DJANGO_SECRET_KEY": "s"}, "EGRESSUI_ENCRYPTION_KEY"),
            ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
            ({"DJANGO_DEBUG": "true", "EGRESSUI_MAX_GRANT_DAYS": "many"}, "EGRESSUI_MAX_GRANT_DAYS"),
        ],
    )
    def test_missing_or_malformed_variables_are_named(self, env, named):
        result = _check(env)
        assert result.returncode != 0
        assert named in result.stderr

    def test_production_settings_start_with_both_keys(self):
        result = _check(
            {
                "DJANGO_SECRET_KEY": "s" * 50,
                "EGRESSUI_ENCRYPTION_KEY": "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LWVncmVzc3U=",
                "DJANGO_ALLOWED_HOSTS": "egress.example.com",
            }
        )
        assert result.returncode == 0, result.stderr
