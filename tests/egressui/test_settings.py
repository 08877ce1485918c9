"""Settings come from the environment; a missing required variable stops the process and is named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict[str, str | None], *command: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "EGRESSUI_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "egressui.settings"
    env["EGRESSUI_VAR_DIR"] = "/tmp/egressui-settings-test"
    env["EGRESSUI_ENV_FILE"] = ""  # not the checkout's own .env, unless a test names one
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *(command or ("check",))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
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
        # One line for the operator, not a traceback.
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    def test_production_settings_start_with_both_keys(self):
        result = _check(
            {
                "DJANGO_SECRET_KEY": "s" * 50,
                "EGRESSUI_ENCRYPTION_KEY": "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LWVncmVzc3U=",
                "DJANGO_ALLOWED_HOSTS": "egress.example.com",
            }
        )
        assert result.returncode == 0, result.stderr


class EnvFileTests:
    """A development checkout's commands read `.env` (written by `make run`), like the server does."""

    def test_commands_read_the_env_file(self, tmp_path):
        env_file = tmp_path / ".env"
        env_file.write_text("# written by make run\nDJANGO_DEBUG=true\n")
        assert _check({"EGRESSUI_ENV_FILE": str(env_file)}).returncode == 0
        missing = _check({"EGRESSUI_ENV_FILE": str(tmp_path / "absent")})
        assert missing.returncode == 1 and "DJANGO_SECRET_KEY" in missing.stderr and "make run" in missing.stderr

    def test_create_api_token_works_beside_make_run(self, tmp_path):
        """The README's command, as written, in a checkout whose only configuration is the .env file."""
        env_file = tmp_path / ".env"
        env_file.write_text(f"DJANGO_DEBUG=true\nEGRESSUI_VAR_DIR={tmp_path / 'var'}\n")
        env = {"EGRESSUI_ENV_FILE": str(env_file), "EGRESSUI_VAR_DIR": None}
        assert _check(env, "migrate", "--noinput", "-v", "0").returncode == 0
        seeded = _check(
            env, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create(username='ci')"
        )
        assert seeded.returncode == 0, seeded.stderr
        result = _check(env, "create_api_token", "--user", "ci", "--name", "automation")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() and "Traceback" not in result.stderr

    def test_the_environment_wins_over_the_file(self, tmp_path, monkeypatch):
        from egressui.env import read_env_file

        env_file = tmp_path / ".env"
        env_file.write_text("EGRESSUI_T_ONE=from-file\nEGRESSUI_T_TWO=from-file\n")
        monkeypatch.setenv("EGRESSUI_T_ONE", "from-env")
        monkeypatch.delenv("EGRESSUI_T_TWO", raising=False)
        monkeypatch.delenv("EGRESSUI_ENV_FILE", raising=False)
        assert read_env_file(env_file) == env_file
        assert os.environ["EGRESSUI_T_ONE"] == "from-env" and os.environ["EGRESSUI_T_TWO"] == "from-file"
        monkeypatch.delenv("EGRESSUI_T_TWO")
        monkeypatch.setenv("EGRESSUI_ENV_FILE", "")
        assert read_env_file(env_file) is None and "EGRESSUI_T_TWO" not in os.environ
