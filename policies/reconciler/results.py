"""What a reconcile did, as plain data handed from the loop to the recording service."""

from dataclasses import dataclass, field

from policies.reconciler.desired import DesiredState
from policies.reconciler.diff import CREATE, DELETE, UPDATE, Change
from policies.reconciler.resources import ObjectKey, content_hash_of, grant_ids_of

CREATED, UPDATED, DELETED, UNCHANGED, FAILED = "created", "updated", "deleted", "unchanged", "failed"
DONE = {CREATE: CREATED, UPDATE: UPDATED, DELETE: DELETED}


@dataclass(slots=True)
class ObjectResult:
    change: Change
    action: str  # created / updated / deleted / unchanged / failed
    message: str = ""
    transient: bool = False

    @property
    def key(self) -> ObjectKey:
        return self.change.key

    @property
    def api_version(self) -> str:
        obj = self.change.desired or self.change.live or {}
        return obj.get("apiVersion", "")

    @property
    def new_hash(self) -> str:
        return content_hash_of(self.change.desired) if self.change.desired else ""

    @property
    def old_hash(self) -> str:
        return content_hash_of(self.change.live) if self.change.live else ""

    @property
    def in_cluster_after(self) -> dict | None:
        """The object the cluster holds after this result (the live one if the write failed)."""
        if self.action == FAILED or self.action == UNCHANGED and self.change.action == DELETE:
            return self.change.live
        return None if self.action == DELETED else self.change.desired

    @property
    def grants_after(self) -> tuple[int, ...]:
        obj = self.in_cluster_after
        return grant_ids_of(obj) if obj else ()


@dataclass
class RunReport:
    """Everything `reconcile_run_finish` records: the plan's results, or why the run stopped."""

    desired: DesiredState | None = None
    results: list[ObjectResult] = field(default_factory=list)
    error: str = ""
    error_transient: bool = False
    aborted: bool = False  # the target failed mid-run: results cover only what was attempted
    timings: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    commit: str = ""  # the git commit of a directory target

    def count(self, action: str) -> int:
        return sum(1 for result in self.results if result.action == action)

    @property
    def failures(self) -> list[ObjectResult]:
        return [result for result in self.results if result.action == FAILED]

    @property
    def complete(self) -> bool:
        """The whole plan was carried out (objects may still have failed one by one)."""
        return not self.error and self.desired is not None

    @property
    def transient(self) -> bool:
        """Worth running again soon without any change (the outbox flag stays set)."""
        return self.error_transient or any(result.transient for result in self.failures)
