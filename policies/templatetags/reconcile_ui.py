"""How a reconcile run reads on its pages: sentences, not `key=value` lists (the API and the
`reconcile` command keep `ReconcileRun.summary` for scripts)."""

from django import template

register = template.Library()

# In the order a run goes through them.
PHASES = {
    "queued": "waiting for a worker",
    "desired": "computing the desired objects",
    "list": "reading the cluster",
    "write": "writing the changes",
    "record": "recording the run",
}
CALLS = {
    "list": ("list", "lists"),
    "get": ("read", "reads"),
    "apply": ("write", "writes"),
    "delete": ("delete", "deletes"),
}


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


@register.filter
def run_summary(run) -> str:
    if run.outcome == "queued":
        return "Waiting for a worker to start it."
    changed = [
        f"{count} {verb}"
        for count, verb in ((run.created, "created"), (run.updated, "updated"), (run.deleted, "deleted"))
        if count
    ]
    failed = f"; {_count(run.failed, 'object', 'objects')} failed" if run.failed else ""
    if not changed:
        return f"No change: {_count(run.unchanged, 'object was', 'objects were')} already as desired{failed}."
    total = _count(run.created + run.updated + run.deleted, "object", "objects")
    return f"{total} changed ({', '.join(changed)}), {run.unchanged} unchanged{failed}."


@register.filter
def run_timings(timings: dict) -> str:
    ordered = [key for key in PHASES if key in timings] + sorted(key for key in timings if key not in PHASES)
    return " · ".join(f"{PHASES.get(key, key)} {timings[key]:,} ms" for key in ordered)


@register.filter
def run_api_calls(calls: dict) -> str:
    parts = []
    for verb, count in sorted(calls.items()):
        one, many = CALLS.get(verb, (verb, verb))
        parts.append(_count(count, one, many))
    return ", ".join(parts)
