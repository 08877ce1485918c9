import sys

from django.core.management.base import BaseCommand, CommandError

from policies.models import Cluster, ReconcileRun
from policies.reconciler.errors import ReconcileBusy
from policies.reconciler.loop import reconcile_cluster


class Command(BaseCommand):
    help = (
        "Reconcile one cluster now, synchronously. The last line is the summary "
        "`created=N updated=N deleted=N unchanged=N failed=N`; the exit status is 1 when anything failed. "
        "--dry-run changes nothing: API targets are asked with server-side dryRun=All, directory targets "
        "print a diff."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster name.")
        parser.add_argument("--dry-run", action="store_true", help="Preview: persist nothing in the cluster.")
        parser.add_argument(
            "--wait", type=float, default=60.0, help="Seconds to wait for a reconcile already running (default 60)."
        )

    def handle(self, *args, cluster, dry_run, wait, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            raise CommandError(f"No cluster named {cluster!r}.")
        try:
            run = reconcile_cluster(found.pk, trigger="command", dry_run=dry_run, wait=wait)
        except ReconcileBusy as exc:
            raise CommandError(f"{exc}; gave up after {wait:g} s.") from None
        for result in run.results.all():
            line = f"{'would be ' if dry_run else ''}{result.action}: {result.kind} {result.namespace}/{result.name}"
            if result.action == "failed" or result.drift:
                line += f" — {result.message}"
            self.stdout.write(line)
            if dry_run and result.message and result.message.startswith("---"):
                self.stdout.write(result.message.rstrip("\n"))
        if run.error:
            self.stderr.write(f"error: {run.error}")
        if dry_run:
            self.stdout.write("dry run: nothing was changed")
        self.stdout.write(run.summary)
        if run.outcome in (ReconcileRun.Outcome.FAILED, ReconcileRun.Outcome.PARTIAL):
            sys.exit(1)
