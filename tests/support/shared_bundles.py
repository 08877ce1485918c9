"""The CRD bundles some tests validate against live outside the repository (`../shared` beside the
checkout, or wherever EGRESSUI_ISTIO_CRDS points). A clone without them still passes its tests: those
tests skip, saying what is missing. CI sets EGRESSUI_REQUIRE_SHARED=1 so a missing bundle fails
instead of quietly skipping coverage."""

from pathlib import Path

import pytest

from egressui.env import env_bool

REQUIRE_VARIABLE = "EGRESSUI_REQUIRE_SHARED"


def require_bundle(path: str | Path, variable: str) -> Path:
    """`path` when it is a file; otherwise skip the test (or fail it when bundles are required)."""
    bundle = Path(path)
    if bundle.is_file():
        return bundle
    reason = (
        f"needs the CRD bundle {bundle}, which is absent: put the design repository's shared/ beside this "
        f"checkout, or set {variable} to a file from `kubectl get crd … -o yaml` (README, Tests)"
    )
    if env_bool(REQUIRE_VARIABLE, False):
        pytest.fail(f"{reason}; {REQUIRE_VARIABLE}=1 makes it mandatory", pytrace=False)
    pytest.skip(reason)
