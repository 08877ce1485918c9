"""The reconciler's errors live in one module, so a caller imports every one of them from one place."""

import importlib
import inspect
import pkgutil

import policies.reconciler


def test_every_reconciler_exception_is_defined_in_errors():
    elsewhere = []
    for info in pkgutil.walk_packages(policies.reconciler.__path__, prefix="policies.reconciler."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                elsewhere.append(f"{info.name}.{name}")
    assert [name for name in elsewhere if not name.startswith("policies.reconciler.errors.")] == []
    assert "policies.reconciler.errors.KubeconfigRefused" in elsewhere  # the walk sees the errors module
