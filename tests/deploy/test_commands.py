"""No drift: the process commands are the same in the Dockerfile, Compose, Kubernetes, the Makefile and
Procfile.dev (what `make run` starts) and docs/deploy.md; the image installs what pyproject.toml declares."""

import json
import re
import shlex
import tomllib

import pytest

from tests.deploy.manifests import DEPLOY, ROOT, compose, find, main_container, rendered

DOCS = ROOT / "docs" / "deploy.md"
WEB = ["gunicorn", "--config", "deploy/gunicorn.conf.py", "egressui.wsgi"]


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile.dev").read_text().splitlines()
    return {name: shlex.split(command) for name, _, command in (line.partition(":") for line in lines if line.strip())}


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def dockerfile_cmd() -> list[str]:
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile(), flags=re.MULTILINE)
    return json.loads(cmd)


def make_migrate() -> list[str]:
    (line,) = [line for line in (ROOT / "Makefile").read_text().splitlines() if "manage.py migrate" in line]
    return shlex.split(line.replace("$(RUN_ENV)", ""))


class CommandDriftTests:
    def test_web_runs_gunicorn_everywhere(self):
        assert dockerfile_cmd() == WEB
        assert "command" not in compose()["services"]["web"], "Compose uses the image's command"
        assert main_container(find(rendered("production"), "Deployment", "egressui-web"))["command"] == WEB

    @pytest.mark.parametrize("process", ["worker", "beat"])
    def test_worker_and_beat_run_what_make_run_runs(self, process):
        expected = procfile()[process]
        assert expected[:4] == ["celery", "-A", "egressui", process]
        assert compose()["services"][process]["command"] == expected
        deployment = find(rendered("production"), "Deployment", f"egressui-{process}")
        assert main_container(deployment)["command"] == expected

    def test_migrate_runs_what_make_run_runs(self):
        expected = make_migrate()
        assert expected == ["python", "manage.py", "migrate", "--noinput"]
        assert compose()["services"]["migrate"]["command"] == expected
        assert main_container(find(rendered("production"), "Job", "egressui-migrate"))["command"] == expected

    def test_docs_show_the_same_commands(self):
        docs = DOCS.read_text()
        commands = [WEB, procfile()["worker"], procfile()["beat"], make_migrate()]
        for command in commands:
            assert shlex.join(command) in docs, shlex.join(command)

    def test_image_installs_the_dependencies_of_pyproject_and_copies_every_package(self):
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
        text = dockerfile()
        assert "COPY pyproject.toml ./" in text
        assert "['project']['dependencies']" in text and "pip install --requirement requirements.txt" in text
        packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
        for package in [*packages, "static", "manage.py", "deploy/gunicorn.conf.py"]:
            assert re.search(rf"^COPY {re.escape(package)} \./", text, flags=re.MULTILINE), package
        assert "collectstatic --noinput" in text
        assert re.search(r"^USER 10001:10001$", text, flags=re.MULTILINE), "numeric user, so runAsNonRoot can verify it"
        pod_user = find(rendered("production"), "Deployment", "egressui-web")["spec"]["template"]["spec"]
        assert pod_user["securityContext"]["runAsUser"] == 10001

    def test_image_defaults_match_the_read_only_layout(self):
        text = dockerfile()
        # Writable state (beat's schedule) goes to the /tmp volume; static files are baked in elsewhere.
        assert "EGRESSUI_VAR_DIR=/tmp" in text
        assert "DJANGO_STATIC_ROOT=/app/staticfiles" in text
        assert "python -m compileall" in text
