"""Golden files: the exact YAML per protocol case, per enforcement mode (golden/ for istio,
golden/cilium/). A change to rendering shows up here as a diff to review. Regenerate with
`EGRESSUI_UPDATE_GOLDEN=1 .venv/bin/pytest tests/policies/manifests/test_golden.py`."""

from pathlib import Path

import pytest

from policies.manifests import dump_yaml
from tests.policies.manifests.cases import AMBIENT, AMBIENT_CASES, CASES, CILIUM_CASES, assert_golden, render

GOLDEN = Path(__file__).parent / "golden"
# mode → (cases, folder, render arguments the mode adds)
MODES = {
    "istio": (CASES, GOLDEN, {}),
    "cilium": (CILIUM_CASES, GOLDEN / "cilium", {"mode": "cilium"}),
    "istio-ambient": (AMBIENT_CASES, GOLDEN / "ambient", AMBIENT),
}


@pytest.mark.parametrize(("mode", "case"), [(mode, case) for mode, (cases, _, _) in MODES.items() for case in cases])
def test_golden(mode, case):
    cases, folder, extra = MODES[mode]
    grants, overrides = cases[case]
    result = render(grants, **{**extra, **overrides})
    assert not result.unrenderable
    assert_golden(folder / f"{case}.yaml", dump_yaml(result.objects))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_no_stray_golden_files(mode):
    cases, folder, _ = MODES[mode]
    assert sorted(p.stem for p in folder.glob("*.yaml")) == sorted(cases)
