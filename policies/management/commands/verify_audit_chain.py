from django.core.management.base import BaseCommand, CommandError

from policies.selectors.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Re-compute the audit hash chain; exit 0 with the count when intact, non-zero naming the first broken event."

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{report.first_broken_seq}: {report.reason} "
                f"({report.count} events verified before it)"
            )
        self.stdout.write(f"audit chain intact: {report.count} events, head {report.head_hash}")
