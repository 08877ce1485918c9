"""Where the CRD bundle comes from: absent → skip with a reason (or fail when required); a cluster's
`kubectl get crd … -o yaml` output is read like the multi-document bundle."""

import pytest
import yaml
from _pytest.outcomes import Failed, Skipped

from tests.support.manifest_validation import ManifestValidator, default_validator

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                    }
                },
            }
        ],
    },
}


class CrdBundleTests:
    def test_absent_bundle_skips_naming_the_variable(self, settings, tmp_path, monkeypatch):
        monkeypatch.delenv("EGRESSUI_REQUIRE_SHARED", raising=False)
        settings.EGRESSUI_ISTIO_CRDS = str(tmp_path / "missing.yaml")
        with pytest.raises(Skipped) as skipped:
            default_validator()
        assert "missing.yaml" in str(skipped.value) and "EGRESSUI_ISTIO_CRDS" in str(skipped.value)

    def test_absent_bundle_fails_when_required(self, settings, tmp_path, monkeypatch):
        monkeypatch.setenv("EGRESSUI_REQUIRE_SHARED", "1")
        settings.EGRESSUI_ISTIO_CRDS = str(tmp_path / "missing.yaml")
        with pytest.raises(Failed, match="EGRESSUI_REQUIRE_SHARED=1 makes it mandatory"):
            default_validator()

    def test_kubectl_list_output_is_read(self, tmp_path):
        path = tmp_path / "crds.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [CRD]}))
        validator = ManifestValidator(str(path))
        widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "n"}}
        assert validator.errors({**widget, "spec": {"size": 3}}) == []
        assert any("size" in error for error in validator.errors({**widget, "spec": {"size": "big"}}))


class RequiredBundlesTests:
    def test_a_required_run_stops_naming_every_missing_bundle(self, settings, tmp_path, monkeypatch):
        from tests.support.shared_bundles import check_required_bundles

        settings.EGRESSUI_CILIUM_CRDS = str(tmp_path / "cilium.yaml")
        monkeypatch.delenv("EGRESSUI_REQUIRE_SHARED", raising=False)
        check_required_bundles()  # not required: the tests that need it skip
        monkeypatch.setenv("EGRESSUI_REQUIRE_SHARED", "1")
        with pytest.raises(pytest.UsageError, match="EGRESSUI_CILIUM_CRDS=.*cilium.yaml"):
            check_required_bundles()
