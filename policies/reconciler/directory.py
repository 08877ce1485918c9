"""The GitOps directory target: one YAML file per object, `DIR/<namespace>/<kind>-<name>.yaml`.

It behaves like a cluster to the reconcile loop: "listing" reads the files that carry our labels for
this cluster (other files are never touched), "applying" writes a file atomically (temporary file in
the same directory, fsync, rename; directories are created as needed), "deleting" removes it. When
DIR is inside a git work tree the run ends with one commit of DIR, whose message names the grants
involved; Argo CD or Flux take it from there. A dry run writes nothing and reports each change as a
unified diff.
"""

import difflib
import logging
import os
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from policies.manifests import dump_object_yaml, load_yaml, object_path
from policies.manifests.kinds import KindInfo
from policies.reconciler.errors import ObjectFailed, TargetUnavailable
from policies.reconciler.resources import ObjectKey, is_ours, key_of

if TYPE_CHECKING:
    from policies.models import Cluster

logger = logging.getLogger(__name__)

GIT_TIMEOUT = 60


class DirectoryTarget:
    concurrency = 1  # file writes are fast; one thread keeps git's view simple

    def __init__(self, cluster: "Cluster"):
        self.cluster_name = cluster.name
        self.root = Path(cluster.directory_path).expanduser()
        self.description = str(self.root)
        self.calls: Counter = Counter()
        self._files: dict[ObjectKey, tuple[Path, str, dict]] | None = None
        self._changed = False

    def close(self) -> None:
        pass

    # --- reading ------------------------------------------------------------------------------------
    def _scan(self) -> dict[ObjectKey, tuple[Path, str, dict]]:
        if self._files is None:
            if self.root.exists() and not self.root.is_dir():
                raise TargetUnavailable(f"{self.root} is not a directory.")
            files: dict[ObjectKey, tuple[Path, str, dict]] = {}  # a missing directory holds nothing yet
            for path in sorted(self.root.glob("*/*.yaml")):
                try:
                    text = path.read_text(encoding="utf-8")
                    documents = load_yaml(text)
                except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                    logger.warning("skipping %s: %s", path, exc)
                    continue
                if len(documents) == 1 and isinstance(documents[0], dict) and is_ours(documents[0], self.cluster_name):
                    files[key_of(documents[0])] = (path, text, documents[0])
            self._files = files
        return self._files

    def list_managed(self, info: KindInfo, *, metadata_only: bool = False) -> dict[ObjectKey, dict]:
        """Whole files always: reading them is the cost, whether or not the spec is compared."""
        self.calls["list"] += 1
        return {key: obj for key, (_, _, obj) in self._scan().items() if key.kind == info.key}

    def unmanaged_keys(self, info: KindInfo) -> None:
        """Each create checks the one file it writes (no list needed)."""
        return None

    def service_accounts(self) -> None:
        """A directory knows no service accounts: identities are typed in."""
        return None

    def dry_run_message(self, key: ObjectKey, desired: dict | None) -> str:
        return self.diff(key, desired)

    def diff(self, key: ObjectKey, desired: dict | None) -> str:
        """A unified diff of the file for `key` against what `desired` would write."""
        path, text, _ = self._scan().get(key, (self.root / object_path(desired) if desired else None, "", None))
        new_text = dump_object_yaml(desired) if desired is not None else ""
        name = str(path.relative_to(self.root)) if path else str(key)
        lines = difflib.unified_diff(
            text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
        return "".join(lines)

    # --- writing ------------------------------------------------------------------------------------
    def apply(self, obj: dict, *, dry_run: bool = False, create: bool = False) -> None:
        self.calls["apply"] += 1
        key = key_of(obj)
        path = self.root / object_path(obj)
        if create and path.exists() and key not in self._scan():
            raise ObjectFailed(f"{path} exists and is not egressui's file for cluster {self.cluster_name}; left alone.")
        if dry_run:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, dump_object_yaml(obj))
        except OSError as exc:
            raise ObjectFailed(f"Cannot write {path}: {exc.strerror or exc}") from None
        self._changed = True

    def delete(self, key: ObjectKey, live: dict, *, dry_run: bool = False) -> bool:
        self.calls["delete"] += 1
        found = self._scan().get(key)
        if found is None:
            return False
        if dry_run:
            return True
        try:
            found[0].unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ObjectFailed(f"Cannot remove {found[0]}: {exc.strerror or exc}") from None
        self._changed = True
        try:
            found[0].parent.rmdir()  # drop the namespace directory once it is empty
        except OSError:
            pass
        return True

    def commit(self, message: str) -> str:
        """Commit DIR if it is in a git work tree and something changed; returns the commit id or ""."""
        if not self._changed or not self.in_git_work_tree():
            return ""
        try:
            self._git("add", "--all", "--", ".")
            if not self._git("status", "--porcelain", "--", ".").strip():
                return ""
            identity = []
            if not self._git("config", "user.email", check=False).strip():
                identity = ["-c", "user.name=egressui", "-c", "user.email=egressui@localhost"]
            self._git(*identity, "commit", "--quiet", "-m", message, "--", ".")
            return self._git("rev-parse", "HEAD").strip()
        except subprocess.CalledProcessError as exc:
            raise TargetUnavailable(
                f"Files are written but git commit in {self.root} failed: {_git_error(exc)}"
            ) from None

    def in_git_work_tree(self) -> bool:
        """DIR is tracked by git: inside a work tree and not ignored there. A directory the enclosing
        repository ignores (the demo cluster's `var/gitops/demo` in an egressui checkout) is a plain
        directory: committing it would fail, and it is not ours to commit."""
        try:
            if self._git("rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
                return False
            return not self._git("check-ignore", ".", check=False).strip()  # prints "." when ignored
        except (OSError, subprocess.SubprocessError):
            return False

    def _git(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=check,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        return result.stdout


def _git_error(exc: subprocess.CalledProcessError) -> str:
    """git's own error line (`fatal: …`, `error: …`), else its first line that is not a hint."""
    lines = [line for line in (exc.stderr or exc.stdout or "").strip().splitlines() if not line.startswith("hint:")]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (errors or lines or [str(exc)])[0]


def _atomic_write(path: Path, text: str) -> None:
    """Readers (git, a GitOps controller) see the old file or the new one, never half of one."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
