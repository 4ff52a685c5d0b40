from django.core.management.base import BaseCommand
from django.db import transaction

from telehealth import crypto
from telehealth.models import PracticeZoomApp, ZoomConnection


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in FIELD_ENCRYPTION_KEYS (run after adding a key)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        count = 0
        # Connections using the practice's app keep no secret of their own (empty): nothing to re-encrypt there.
        for model in (ZoomConnection, PracticeZoomApp):
            for row in model.objects.select_for_update().exclude(client_secret_encrypted="").only(
                    "pk", "client_secret_encrypted"):
                row.client_secret_encrypted = crypto.rotate(row.client_secret_encrypted)
                row.save(update_fields=["client_secret_encrypted"])
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} Zoom client secret(s) with the newest key."))
