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


def missing_bundles() -> list[str]:
    """`VARIABLE=path` of every CRD bundle the tests read that is absent."""
    from django.conf import settings

    bundles = {
        "EGRESSUI_ISTIO_CRDS": settings.EGRESSUI_ISTIO_CRDS,
        "EGRESSUI_GATEWAY_API_CRDS": settings.EGRESSUI_GATEWAY_API_CRDS,
        "EGRESSUI_CILIUM_CRDS": settings.EGRESSUI_CILIUM_CRDS,
    }
    return [f"{name}={path}" for name, path in bundles.items() if not Path(path).is_file()]


def check_required_bundles() -> None:
    """Under EGRESSUI_REQUIRE_SHARED=1 (CI), a run without every bundle stops before any test: some
    tests skip at collection (Cilium's), so failing them one by one is not enough."""
    if env_bool(REQUIRE_VARIABLE, False) and (missing := missing_bundles()):
        raise pytest.UsageError(f"{REQUIRE_VARIABLE}=1 but CRD bundles are missing: {', '.join(missing)}")
