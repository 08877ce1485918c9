"""The GitOps directory target: one file per object, pruning, atomic writes, git commits, dry-run diffs."""

import os
import subprocess

import pytest

from policies.choices import ConnectionKind
from policies.manifests import dump_object_yaml, object_path
from policies.manifests.kinds import kinds_for_mode
from policies.models import ReconcileRun
from policies.reconciler import directory
from policies.reconciler.loop import reconcile_cluster
from policies.selectors.manifests import desired_objects_for_cluster
from policies.services.grants import grant_revoke
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db


def git(root, *args) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def gitops(world, tmp_path):
    root = tmp_path / "gitops"
    root.mkdir()
    world.cluster.connection_kind, world.cluster.directory_path = ConnectionKind.DIRECTORY, str(root)
    fixture_save(world.cluster)
    world.grants = [
        GrantFactory(identity=world.checkout, host="api.stripe.com"),
        GrantFactory(identity=world.indexer, host="search.example.com"),
    ]
    return root


def files(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*.yaml"))
        if ".git" not in path.parts
    }


def run(world, trigger="test", **kwargs) -> ReconcileRun:
    return reconcile_cluster(world.cluster.pk, trigger=trigger, **kwargs)


class DirectoryTargetTests:
    def test_one_file_per_object_then_nothing_to_do(self, world, gitops):
        desired = desired_objects_for_cluster(world.cluster)
        first = run(world)
        assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, first.error
        assert first.created == len(desired)
        assert files(gitops) == {object_path(obj): dump_object_yaml(obj) for obj in desired}
        assert "istio-egress/serviceentry-api-stripe-com.yaml" in files(gitops)
        mtimes = {path: os.stat(gitops / path).st_mtime_ns for path in files(gitops)}
        second = run(world)
        assert (second.created, second.updated, second.deleted, second.unchanged) == (0, 0, 0, len(desired))
        assert second.api_calls == {"list": len(kinds_for_mode("istio"))}
        assert {path: os.stat(gitops / path).st_mtime_ns for path in files(gitops)} == mtimes

    def test_revocation_prunes_files_and_leaves_foreign_files_alone(self, world, gitops):
        (gitops / "istio-egress").mkdir()
        (gitops / "istio-egress" / "serviceentry-hand-made.yaml").write_text("kind: ServiceEntry\n")
        (gitops / "README.md").write_text("synced by Argo CD\n")
        run(world)
        grant_revoke(grant=world.grants[1], actor=world.admin, reason="done")
        result = run(world)
        assert result.deleted > 0
        remaining = files(gitops)
        assert not any("search-example-com" in path for path in remaining)
        # The enforced namespace stays locked down without its grant (fail-closed), now importing nothing.
        assert "search-example-com" not in remaining["search/sidecar-default.yaml"]
        assert remaining["istio-egress/serviceentry-hand-made.yaml"] == "kind: ServiceEntry\n"
        assert (gitops / "README.md").read_text() == "synced by Argo CD\n"

    def test_a_git_work_tree_gets_one_commit_per_changing_run(self, world, gitops):
        git(gitops, "init", "--quiet")
        first = run(world)
        log = git(gitops, "log", "--format=%s%n%b")
        assert log.startswith(f"egressui: reconcile cluster {world.cluster.name}")
        assert f"created={first.created} updated=0 deleted=0" in log
        assert f"Grants: #{world.grants[0].pk}, #{world.grants[1].pk}" in log
        assert git(gitops, "status", "--porcelain") == ""
        run(world)
        assert len(git(gitops, "log", "--format=%H").split()) == 1  # nothing changed: no empty commit
        grant_revoke(grant=world.grants[1], actor=world.admin, reason="done")
        run(world)
        assert len(git(gitops, "log", "--format=%H").split()) == 2
        assert f"#{world.grants[1].pk}" in git(gitops, "log", "-1", "--format=%b")
        assert git(gitops, "status", "--porcelain") == ""

    def test_a_directory_its_repository_ignores_is_written_but_not_committed(self, world, tmp_path):
        # The demo cluster of `make run` writes to var/gitops/demo inside an egressui checkout,
        # whose .gitignore leaves var/ out: the run succeeds and the checkout gets no commit.
        git(tmp_path, "init", "--quiet")
        (tmp_path / ".gitignore").write_text("gitops/\n")
        root = tmp_path / "gitops" / "demo"
        world.cluster.connection_kind, world.cluster.directory_path = ConnectionKind.DIRECTORY, str(root)
        fixture_save(world.cluster)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        result = run(world)
        assert (result.outcome, result.error) == ("succeeded", "")
        assert result.created > 0 and files(root)
        assert not directory.DirectoryTarget(world.cluster).in_git_work_tree()
        assert git(tmp_path, "rev-list", "--all") == ""  # no commit in the enclosing repository

    def test_a_hand_edited_file_is_drift_and_repaired(self, world, gitops):
        run(world)
        path = gitops / "istio-egress" / "serviceentry-api-stripe-com.yaml"
        original = path.read_text()
        path.write_text(original.replace("api.stripe.com", "evil.example.com"))
        result = run(world, trigger="resync")
        [row] = result.results.all()
        assert (row.action, row.drift) == ("updated", True)
        assert path.read_text() == original

    def test_dry_run_writes_nothing_and_reports_diffs(self, world, gitops):
        run(world)
        grant_revoke(grant=world.grants[1], actor=world.admin, reason="done")
        before = files(gitops)
        result = run(world, dry_run=True)
        assert files(gitops) == before
        diffs = {row.name: row.message for row in result.results.all()}
        assert diffs and all(message.startswith("--- a/") for message in diffs.values())
        assert "-  - search.example.com\n" in diffs["search-example-com"]  # the ServiceEntry is removed
        assert "-          - search\n" in diffs["egressui-gateway-ingress"]  # the namespace leaves the policy

    def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(self, world, gitops, monkeypatch):
        run(world)
        grant_revoke(grant=world.grants[0], actor=world.admin, reason="done")
        GrantFactory(identity=world.refunds, host="api.stripe.com")  # changes the stripe objects
        before = files(gitops)

        def full_disk(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(directory.os, "replace", full_disk)
        result = run(world)
        assert result.outcome == ReconcileRun.Outcome.PARTIAL
        assert {row.message for row in result.results.filter(action="failed")} == {
            f"Cannot write {gitops / row.namespace / (row.kind.lower() + '-' + row.name + '.yaml')}: "
            "No space left on device"
            for row in result.results.filter(action="failed")
        }
        after = files(gitops)
        assert {path: text for path, text in after.items() if path in before} == {
            path: text for path, text in before.items() if path in after
        }
        assert not [p for p in gitops.rglob("*") if p.name.endswith(".tmp")]

    def test_a_missing_directory_is_created_but_a_file_in_the_way_is_a_clear_failure(self, world, gitops):
        world.cluster.directory_path = str(gitops / "new" / "clusters")
        fixture_save(world.cluster)
        assert run(world).outcome == ReconcileRun.Outcome.SUCCEEDED
        assert files(gitops / "new" / "clusters")
        (gitops / "blocker").write_text("not a directory\n")
        world.cluster.directory_path = str(gitops / "blocker")
        fixture_save(world.cluster)
        result = run(world)
        assert result.outcome == ReconcileRun.Outcome.FAILED
        assert result.error == f"{gitops / 'blocker'} is not a directory."
