from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from policies.manifests import load_yaml
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("render_manifests", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class RenderManifestsTests:
    def test_yaml_to_stdout_and_problems_to_stderr(self, world):
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        bad = GrantFactory(identity=world.checkout, host="*.example.org")
        out, err = _run("--cluster", world.cluster.name)
        documents = load_yaml(out)
        assert {d["kind"] for d in documents} >= {"ServiceEntry", "VirtualService", "NetworkPolicy"}
        assert f"grant {bad.pk}" in err and "*.example.org" in err
        assert _run("--cluster", world.cluster.name)[0] == out  # byte-identical

    def test_output_directory_is_kept_in_step(self, world, tmp_path):
        grant = GrantFactory(identity=world.checkout, host="api.stripe.com")
        out, _ = _run("--cluster", world.cluster.name, "--output", str(tmp_path))
        vs = tmp_path / "istio-egress" / "virtualservice-api-stripe-com.yaml"
        sidecar = tmp_path / "payments" / "sidecar-default.yaml"
        assert vs.is_file() and sidecar.is_file()
        assert load_yaml(vs.read_text())[0]["spec"]["hosts"] == ["api.stripe.com"]
        assert "removed=0" in out
        foreign = tmp_path / "istio-egress" / "keep-me.yaml"
        foreign.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n")
        assert "unchanged=" in _run("--cluster", world.cluster.name, "--output", str(tmp_path))[0]
        grant.status = "revoked"
        fixture_save(grant)
        out, _ = _run("--cluster", world.cluster.name, "--output", str(tmp_path))
        assert not vs.exists() and foreign.exists()
        assert "api.stripe.com" not in sidecar.read_text()  # enforced without grants: locked, importing nothing
        assert "removed=" in out and "removed=0" not in out

    def test_unknown_cluster(self, world):
        with pytest.raises(CommandError, match="No cluster named 'nope'"):
            _run("--cluster", "nope")
