from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from policies.choices import EnforcementMode
from policies.exceptions import ApplicationError
from policies.management.ambient_options import add_ambient_arguments, ambient_settings
from policies.models import Cluster
from policies.services.clusters import cluster_mode_migrate


class Command(BaseCommand):
    help = (
        "Move a cluster to another enforcement mode (docs/rendering.md, 'Changing a cluster's mode'): the mode "
        "and its settings change (audited), then one reconcile applies the new mode's objects and deletes the "
        "old mode's. Without --reconcile the next reconcile does it (the cluster is marked)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster name.")
        parser.add_argument("--mode", required=True, choices=EnforcementMode.values)
        add_ambient_arguments(parser)
        parser.add_argument("--reconcile", action="store_true", help="Reconcile now and print its summary.")

    def handle(self, *args, cluster, mode, reconcile, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            raise CommandError(f"No cluster named {cluster!r}.")
        settings = ambient_settings(options)
        try:
            cluster_mode_migrate(cluster=found, actor=None, mode=mode, **settings)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"cluster {found.name}: enforcement mode is now {mode}")
        if reconcile:
            call_command("reconcile", cluster=found.name, stdout=self.stdout, stderr=self.stderr)
