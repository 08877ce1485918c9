"""deploy/compose.yaml: parses, every long-running service has a health check, the start order waits for
health and for the migration, and every variable it interpolates is in .env.example."""

import re
import subprocess

from tests.deploy.manifests import DEPLOY, ROOT, compose

APP_SERVICES = {"migrate", "web", "worker", "beat"}
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat"}


def env_example_keys() -> set[str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return {line.partition("=")[0] for line in lines if line.strip() and not line.startswith("#")}


class ComposeTests:
    def test_services(self):
        assert set(compose()["services"]) == APP_SERVICES | {"postgres", "redis"}

    def test_every_long_running_service_has_a_health_check(self):
        services = compose()["services"]
        for name in LONG_RUNNING:
            check = services[name]["healthcheck"]
            assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1, name
            assert {"interval", "timeout", "retries"} <= set(check), name

    def test_migrate_is_one_shot_and_everything_else_waits_for_it_and_for_healthy_backends(self):
        services = compose()["services"]
        assert services["migrate"]["restart"] == "no"
        assert "healthcheck" not in services["migrate"], "its exit code is its health"
        assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        for name in ("web", "worker", "beat"):
            assert services[name]["depends_on"] == {
                "postgres": {"condition": "service_healthy"},
                "redis": {"condition": "service_healthy"},
                "migrate": {"condition": "service_completed_successfully"},
            }, name

    def test_app_containers_share_one_image_and_are_hardened(self):
        services = compose()["services"]
        images = {services[name]["image"] for name in APP_SERVICES}
        assert len(images) == 1
        for name in APP_SERVICES:
            service = services[name]
            assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
            assert service["env_file"] == ".env"
            assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
            assert service["cap_drop"] == ["ALL"]
            assert service["security_opt"] == ["no-new-privileges:true"]
            assert service["environment"]["DATABASE_URL"].endswith("@postgres:5432/egressui")
            assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"

    def test_data_lives_in_named_volumes(self):
        document = compose()
        assert document["services"]["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
        assert set(document["volumes"]) == {"postgres-data", "redis-data"}

    def test_every_interpolated_variable_is_in_env_example(self):
        text = (DEPLOY / "compose.yaml").read_text()
        interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
        assert interpolated, "the pattern finds the variables"
        assert interpolated <= env_example_keys()

    def test_the_filled_in_env_file_is_never_committed(self):
        result = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT)
        assert result.returncode == 0
