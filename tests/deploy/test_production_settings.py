"""`manage.py check --deploy` with the production environment the deploy files ship, in a clean process."""

import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.deploy.manifests import DEPLOY, ROOT, find, rendered

# Stand-ins for what the operator puts in the Secret / .env; nothing connects to these addresses.
SECRETS = {
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-grade-secret-key-for-the-deploy-check-0123456789",
    "EGRESSUI_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://egressui:password@db.invalid:5432/egressui",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def kubernetes_environment() -> dict[str, str]:
    config = find(rendered("production"), "ConfigMap", "egressui-config")["data"]
    return {**config, **SECRETS}


def compose_environment() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return {**values, **{key: value for key, value in SECRETS.items() if not values.get(key)}}


def manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run manage.py with exactly this environment (plus PATH/HOME), as a container would."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environment}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


class CheckDeployTests:
    @pytest.mark.parametrize(
        "environment", [kubernetes_environment, compose_environment], ids=["kubernetes", "compose"]
    )
    def test_check_deploy_is_clean_with_the_shipped_production_environment(self, environment, tmp_path):
        result = manage(
            {**environment(), "EGRESSUI_VAR_DIR": str(tmp_path)}, "check", "--deploy", "--fail-level", "INFO"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout

    def test_check_deploy_reports_a_plain_http_installation(self, tmp_path):
        environment = {**kubernetes_environment(), "EGRESSUI_HTTPS": "false", "EGRESSUI_VAR_DIR": str(tmp_path)}
        result = manage(environment, "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode != 0
        for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
            assert check in result.stderr

    @pytest.mark.parametrize(
        "change, variable",
        [
            ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS"),
            ({"EGRESSUI_LOG_FORMAT": "xml"}, "EGRESSUI_LOG_FORMAT"),
            ({"EGRESSUI_HTTPS": "maybe"}, "EGRESSUI_HTTPS"),
            ({"DJANGO_SECURE_HSTS_SECONDS": "-1"}, "DJANGO_SECURE_HSTS_SECONDS"),
        ],
    )
    def test_bad_production_settings_stop_the_process_naming_the_variable(self, change, variable, tmp_path):
        result = manage({**kubernetes_environment(), **change, "EGRESSUI_VAR_DIR": str(tmp_path)}, "check")
        assert result.returncode != 0
        # One clear line naming the variable, not a traceback.
        assert variable in result.stderr and "Traceback" not in result.stderr


class DocumentationTests:
    def test_every_variable_the_deploy_files_set_is_in_the_readme_table(self):
        readme = (ROOT / "README.md").read_text()
        documented = set()
        for line in readme.splitlines():
            if line.startswith("| `"):
                documented.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
        compose_only = {"POSTGRES_PASSWORD", "EGRESSUI_PORT", "EGRESSUI_IMAGE"}  # explained in .env.example
        shipped = set(kubernetes_environment()) | set(compose_environment()) - compose_only
        assert shipped - documented == set()
