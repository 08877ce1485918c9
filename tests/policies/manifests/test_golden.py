"""Golden files: the exact YAML per protocol case. A change to rendering shows up here as a diff to
review. Regenerate with `EGRESSUI_UPDATE_GOLDEN=1 .venv/bin/pytest tests/policies/manifests/test_golden.py`."""

from pathlib import Path

import pytest

from policies.manifests import dump_yaml
from tests.policies.manifests.cases import CASES, assert_golden, render

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    grants, overrides = CASES[case]
    result = render(grants, **overrides)
    assert not result.unrenderable
    assert_golden(GOLDEN / f"{case}.yaml", dump_yaml(result.objects))


def test_no_stray_golden_files():
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CASES)
