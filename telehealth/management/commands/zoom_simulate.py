"""Development only: play in the local Zoom emulator what happens in Zoom's own app (issue 12).

``python manage.py zoom_simulate waiting 853 4321 7788`` puts a client in that meeting's waiting room; the emulator
then sends the signed webhook to the app, as Zoom would. `make run` wires the two together (README).
"""

from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = ("Make the local Zoom emulator play an event in a meeting (a client waiting, admitted or gone; the host "
            "starting or ending it; the meeting deleted or moved in Zoom) and send its webhook to the app.")

    def add_arguments(self, parser) -> None:
        from devtools.zoom_emulator import SIMULATIONS  # development tooling: loaded only when this command runs

        parser.add_argument("action", choices=list(SIMULATIONS), help="what happens in Zoom")
        parser.add_argument("meeting", nargs="+", help="the Zoom meeting ID, as the panel shows it (spaces allowed)")

    def handle(self, *args, **options) -> None:
        meeting_id = "".join(options["meeting"])
        if not meeting_id.isascii() or not meeting_id.isdigit():
            raise CommandError(f"{' '.join(options['meeting'])!r} is not a Zoom meeting ID (digits, e.g. "
                               "853 4321 7788).")
        api = urlsplit(settings.ZOOM_API_BASE_URL)
        if api.hostname not in LOCAL_HOSTS:
            raise CommandError(f"ZOOM_API_BASE_URL is {settings.ZOOM_API_BASE_URL}, not the local Zoom emulator: "
                               "this command only drives the emulator (`make run` starts it).")
        url = f"{api.scheme}://{api.netloc}/__emulator/meetings/{meeting_id}/simulate/{options['action']}"
        try:
            answer = requests.post(url, timeout=5)
        except requests.RequestException as exc:
            raise CommandError(f"The Zoom emulator does not answer at {api.scheme}://{api.netloc} "
                               f"({type(exc).__name__}); `make run` starts it.") from exc
        try:
            result = answer.json()
        except ValueError:
            result = {}
        if not answer.ok:
            raise CommandError(f"The Zoom emulator refused: {result.get('message') or answer.status_code}")
        if not result.get("sent"):
            self.stdout.write(self.style.WARNING(
                f"{result.get('event')} played, but the emulator has no webhook URL and secret token, so the app was "
                "not told. Start it with --webhook-url and --webhook-secret (make run does)."))
            return
        self.stdout.write(self.style.SUCCESS(f"{result['event']} sent to the app for meeting {meeting_id}."))
