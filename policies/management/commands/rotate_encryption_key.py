from django.core.management.base import BaseCommand

from policies.services.secrets import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of EGRESSUI_ENCRYPTION_KEY. Put the new key first, "
        "keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args, **options):
        count = secrets_reencrypt()
        self.stdout.write(f"re-encrypted {count} secret values with the current key")
