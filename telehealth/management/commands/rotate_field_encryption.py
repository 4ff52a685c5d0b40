from django.core.management.base import BaseCommand
from django.db import transaction

from telehealth import crypto
from telehealth.models import ZoomConnection


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in FIELD_ENCRYPTION_KEYS (run after adding a key)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        count = 0
        for connection in ZoomConnection.objects.select_for_update().only("pk", "client_secret_encrypted"):
            connection.client_secret_encrypted = crypto.rotate(connection.client_secret_encrypted)
            connection.save(update_fields=["client_secret_encrypted"])
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} Zoom client secret(s) with the newest key."))
