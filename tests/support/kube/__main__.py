"""`python -m tests.support.kube`: the emulator in a process of its own (see bench/reconcile.py)."""

from tests.support.kube.server import serve_until_stdin_closes

serve_until_stdin_closes()
