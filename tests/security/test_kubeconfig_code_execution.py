"""Finding 2: no code execution and no file reads on the server through cluster settings.

A kubeconfig whose `exec` plugin would create a marker file is offered through every entry point — the
admin form, the API (create and update), `add_cluster` — and, stored before these checks existed, is
loaded by the connection test (page, admin action, command) and by a reconcile. The marker file is
never created; every refusal names the field and the reason. File references and paths outside
EGRESSUI_CLUSTER_FILES_DIR are refused the same way.
"""

import contextlib
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from policies.choices import ConnectionKind
from policies.models import Cluster
from policies.reconciler.errors import KubeconfigRefused
from policies.reconciler.kubeconfig import kubeconfig_parse
from policies.reconciler.loop import reconcile_cluster
from tests.factories import ClusterFactory, cluster_admin_form, fixture_save

pytestmark = pytest.mark.django_db

BASE = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:9"{cluster_extra}}}
users:
- name: u
  user:
{user}
contexts:
- name: ctx
  context: {{cluster: c, user: u}}
current-context: ctx
"""


def kubeconfig(user: str = "    token: abc", cluster_extra: str = "") -> str:
    return BASE.format(user=user, cluster_extra=cluster_extra)


def exec_kubeconfig(marker: Path) -> str:
    return kubeconfig(
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: /bin/sh\n"
        f'      args: ["-c", "touch {marker}"]\n'
        "      interactiveMode: Never"
    )


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "ran-as-server"


@pytest.fixture
def admin(world) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


class ExecKubeconfigTests:
    def test_refused_by_the_api_on_create_and_update(self, admin, marker):
        response = admin.post(
            "/api/v1/clusters/",
            {"name": "evil", "connection_kind": "kubeconfig", "kubeconfig": exec_kubeconfig(marker)},
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["kubeconfig"] == [
            "kubeconfig: users[0].user.exec is not allowed (egressui never runs a program named in a kubeconfig; "
            "use a token or client certificate data)."
        ]
        cluster = ClusterFactory(name="fine")
        response = admin.patch(
            f"/api/v1/clusters/{cluster.pk}/",
            {"connection_kind": "kubeconfig", "kubeconfig": exec_kubeconfig(marker)},
            content_type="application/json",
        )
        assert response.status_code == 400 and "users[0].user.exec" in response.json()["error"]["message"]
        assert not Cluster.objects.filter(name="evil").exists()
        assert Cluster.objects.get(pk=cluster.pk).connection_kind == ConnectionKind.DIRECTORY
        assert not marker.exists()

    def test_refused_by_the_admin_form_with_a_field_error(self, admin, marker):
        form = cluster_admin_form(
            **{"name": "evil", "connection_kind": "kubeconfig", "kubeconfig": exec_kubeconfig(marker)}
        )
        response = admin.post("/admin/policies/cluster/add/", form)
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "users[0].user.exec is not allowed" in errors["kubeconfig"][0]
        assert not Cluster.objects.filter(name="evil").exists() and not marker.exists()

    def test_refused_by_add_cluster(self, db, tmp_path, marker):
        path = tmp_path / "config"
        path.write_text(exec_kubeconfig(marker))
        with pytest.raises(CommandError, match=r"users\[0\]\.user\.exec is not allowed"):
            call_command("add_cluster", "evil", "--kubeconfig", str(path))
        assert not Cluster.objects.filter(name="evil").exists() and not marker.exists()

    @pytest.mark.parametrize("stored", ["contents", "file"])
    def test_stored_before_the_checks_it_never_runs_when_loaded(self, admin, tmp_path, marker, stored):
        cluster = ClusterFactory(name="legacy")
        cluster.connection_kind = ConnectionKind.KUBECONFIG
        if stored == "contents":
            cluster.kubeconfig = exec_kubeconfig(marker)
        else:
            (tmp_path / "config").write_text(exec_kubeconfig(marker))
            cluster.kubeconfig_path = str(tmp_path / "config")
        fixture_save(cluster)  # written directly: data from before the input checks

        page = admin.post(f"/clusters/{cluster.pk}/test-connection/").content.decode()
        assert "users[0].user.exec is not allowed" in page
        admin.post("/admin/policies/cluster/", {"action": "test_connection", "_selected_action": [cluster.pk]})
        with contextlib.suppress(SystemExit):
            call_command("test_cluster", "legacy")
        run = reconcile_cluster(cluster.pk, trigger="manual")
        assert run.outcome == "failed" and "users[0].user.exec is not allowed" in run.error
        assert not marker.exists()


class FileReferenceTests:
    @pytest.mark.parametrize(
        ("user", "cluster_extra", "where"),
        [
            ("    tokenFile: /etc/shadow", "", "users[0].user.tokenFile"),
            ("    client-certificate: /etc/egressui/cert\n    client-key: /etc/egressui/key", "", "client-certificate"),
            (
                "    token: abc",
                ", certificate-authority: /etc/ssl/private/ca.pem",
                "clusters[0].cluster.certificate-authority",
            ),
            ("    auth-provider: {name: oidc, config: {client-id: x}}", "", "users[0].user.auth-provider"),
        ],
    )
    def test_refused(self, user, cluster_extra, where):
        with pytest.raises(KubeconfigRefused, match=re.escape(where) + ".* is not allowed"):
            kubeconfig_parse(kubeconfig(user, cluster_extra))

    def test_a_self_contained_kubeconfig_is_accepted(self):
        text = kubeconfig(
            "    client-certificate-data: QUJD\n    client-key-data: QUJD", ", certificate-authority-data: QUJD"
        )
        assert kubeconfig_parse(text)["current-context"] == "ctx"

    def test_aliases_are_refused_with_line_and_column(self):
        text = kubeconfig().replace("    token: abc", "    token: &t abc\n    username: *t")
        with pytest.raises(KubeconfigRefused, match=r"kubeconfig line 10, column 15: aliases are not allowed"):
            kubeconfig_parse(text)


class FilePathTests:
    def test_without_a_base_directory_paths_come_only_from_the_command_line(self, admin, settings, tmp_path):
        settings.EGRESSUI_CLUSTER_FILES_DIR = ""
        for field, kind in (("directory_path", "directory"), ("kubeconfig_path", "kubeconfig")):
            response = admin.post(
                "/api/v1/clusters/",
                {"name": "x", "connection_kind": kind, field: str(tmp_path / "target")},
                content_type="application/json",
            )
            assert response.status_code == 400
            assert "only when EGRESSUI_CLUSTER_FILES_DIR is configured" in response.json()["error"]["fields"][field][0]
        call_command("add_cluster", "ops", "--directory", "/srv/gitops/ops")
        assert Cluster.objects.get(name="ops").directory_path == "/srv/gitops/ops"

    @pytest.mark.parametrize("path", ["/etc/cron.d", "{base}/../outside", "{base}", "relative/dir", "{base}/link/x"])
    def test_paths_outside_the_base_directory_are_refused(self, admin, settings, tmp_path, path):
        base = tmp_path / "clusters"
        base.mkdir()
        (base / "link").symlink_to("/etc")
        settings.EGRESSUI_CLUSTER_FILES_DIR = str(base)
        response = admin.post(
            "/api/v1/clusters/",
            {"name": "x", "connection_kind": "directory", "directory_path": path.format(base=base)},
            content_type="application/json",
        )
        assert response.status_code == 400 and "directory_path" in response.json()["error"]["fields"]
        form = cluster_admin_form(
            **{"name": "y", "connection_kind": "directory", "directory_path": path.format(base=base)}
        )
        response = admin.post("/admin/policies/cluster/add/", form)
        assert response.status_code == 200 and "directory_path" in response.context["adminform"].form.errors
        assert not Cluster.objects.filter(name__in=["x", "y"]).exists()

    def test_paths_inside_the_base_directory_are_accepted(self, admin, settings, tmp_path):
        settings.EGRESSUI_CLUSTER_FILES_DIR = str(tmp_path)
        response = admin.post(
            "/api/v1/clusters/",
            {"name": "x", "connection_kind": "directory", "directory_path": str(tmp_path / "gitops" / "x")},
            content_type="application/json",
        )
        assert response.status_code == 201, response.json()
