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
            # The webhook secret token (issue 12) is encrypted like the client secret, so it rotates with it.
            for name in ("client_secret_encrypted", "webhook_secret_encrypted"):
                for row in model.objects.select_for_update().exclude(**{name: ""}).only("pk", name):
                    setattr(row, name, crypto.rotate(getattr(row, name)))
                    row.save(update_fields=[name])
                    count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} Zoom secret(s) (client secrets and webhook "
                                             "secret tokens) with the newest key."))
