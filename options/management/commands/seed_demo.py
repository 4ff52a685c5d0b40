"""Demo practice for `make run`: idempotent, prints one login per role."""

import random
from datetime import time, timedelta

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from practice import roles
from practice.models import Practice, Practitioner
from practice.services import (
    Shift,
    client_create,
    location_create,
    practice_update,
    practitioner_create,
    working_hours_set,
)
from practice.timezones import local_to_aware
from reminders.services import credits_purchase
from scheduling.models import Appointment, Status
from scheduling.services import appointment_book, appointment_set_status, appointment_type_create, client_link_mint

DEMO_PASSWORD = "practice-demo-2026"  # noqa: S105 - printed for the demo logins, never used in production
LOGINS = [
    ("frontdesk", "Fran", "Desk", roles.FRONT_DESK),
    ("amelia", "Amelia", "Nguyen", roles.PRACTITIONER),
    ("admin", "Alex", "Admin", roles.PRACTICE_ADMIN),
]
PRACTITIONERS = [
    # username, first, last, display name, profession, colour, location key, weekdays
    ("amelia", "Amelia", "Nguyen", "Amelia Nguyen", "Physiotherapist", "#2e7d6b", "city", [0, 1, 2, 3, 4]),
    ("ben", "Ben", "Okafor", "Ben Okafor", "Psychologist", "#6d4c9f", "city", [0, 1, 3, 4]),
    ("chloe", "Chloe", "Martin", "Chloe Martin", "Occupational therapist", "#c2571a", "west", [0, 2, 3, 4, 5]),
    ("dev", "Dev", "Patel", "Dev Patel", "Dietitian", "#1f6f8b", "west", [1, 2, 4]),
]
FIRST = ["Olivia", "Jack", "Charlotte", "Noah", "Mia", "William", "Amelia", "Lucas", "Isla", "Leo", "Ava", "Henry",
         "Grace", "Thomas", "Zoe", "Oscar", "Ruby", "Ethan", "Sophie", "Liam"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White",
        "Anderson", "Walker", "Thompson", "Kelly", "Ryan", "Chen", "Lee", "Harris", "Clarke", "Singh"]
TYPES = [("Initial consultation", 60, "#3f7bd6"), ("Standard consultation", 30, "#2e9e8f"),
         ("Long consultation", 45, "#8e5bd0"), ("Review", 15, "#d08b2c")]


class Command(BaseCommand):
    help = "Load the demo practice (idempotent) and print one login per role."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            created = self._seed()
            self._demo_webhook_secret()
        self.stdout.write(self.style.SUCCESS("Demo practice ready." if created else "Demo practice already loaded."))
        self.stdout.write(f"Log in at http://127.0.0.1:8000 with one of (password for all: {DEMO_PASSWORD}):")
        for username, _first, _last, role in LOGINS:
            self.stdout.write(f"  {role:<15} {username}")
        upcoming = (Appointment.objects.filter(status=Status.BOOKED, starts_at__gt=timezone.now() + timedelta(days=2))
                    .order_by("starts_at").first())
        if upcoming is not None:  # a fresh code each run: only its hash is stored, so an old one can't be shown
            self.stdout.write(f"A client's page to try (no login): {client_link_mint(upcoming)}")

    def _user(self, username: str, first: str, last: str, role: str | None) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    def _seed(self) -> bool:
        for username, first, last, role in LOGINS:
            self._user(username, first, last, role)
        if Practitioner.objects.exists():
            return False
        # Through the same services as Options and the pages, so the demo holds only what they could store.
        admin = User.objects.get(username="admin")
        practice = Practice.load()
        practice = practice_update(
            actor=admin, name="Harbourside Allied Health", phone="02 9000 1234",
            email="reception@harbourside.example", address="12 Crown Street, Surry Hills NSW 2010",
            time_zone=practice.time_zone, opens_at=practice.opens_at, closes_at=practice.closes_at,
            client_cancel_notice_hours=practice.client_cancel_notice_hours)
        locations = {
            "city": location_create(actor=admin, name="Surry Hills", address=practice.address, phone=practice.phone,
                                    colour="#2e7d6b"),
            "west": location_create(actor=admin, name="Parramatta", address="88 Church Street, Parramatta NSW 2150",
                                    phone="02 9000 5678", colour="#c2571a"),
        }
        location_create(actor=admin, name="Telehealth", is_telehealth=True, colour="#1f6f8b")
        practitioners = []
        for username, first, last, display, profession, colour, location_key, weekdays in PRACTITIONERS:
            user = self._user(username, first, last, roles.PRACTITIONER)
            where = locations[location_key]
            practitioner = practitioner_create(actor=admin, user=user, display_name=display, profession=profession,
                                               colour=colour, default_location=where)
            shifts = []
            for weekday in weekdays:
                if weekday == 5:
                    shifts.append(Shift(weekday, time(8), time(12), where))
                else:
                    shifts += [Shift(weekday, time(8, 30), time(12, 30), where),
                               Shift(weekday, time(13, 30), time(17, 30), where)]
            working_hours_set(actor=admin, practitioner=practitioner, shifts=shifts)
            practitioners.append(practitioner)
        self._zoom_connections(practitioners)
        credits_purchase(actor=admin, amount=200, note="Demo credits")
        types = [appointment_type_create(actor=admin, name=n, default_duration=d, colour=c) for n, d, c in TYPES]
        rng = random.Random(2026)  # noqa: S311 - demo data, not security
        frontdesk = User.objects.get(username="frontdesk")
        clients = []
        for n in range(40):
            # Forty different names: the second twenty take the next surname along.
            first, last = FIRST[n % len(FIRST)], LAST[(n * 7 + n // len(FIRST)) % len(LAST)]
            clients.append(client_create(
                actor=frontdesk, first_name=first, last_name=last, mobile=f"+6141{n:07d}"[:12],
                email=f"{first}.{last}{n}@example.com".lower(),
                date_of_birth=timezone.localdate() - timedelta(days=365 * (20 + n) + n * 11),
            ))
        self._appointments(practice, practitioners, types, clients, rng)
        return True

    def _zoom_connections(self, practitioners) -> None:
        """Connections to the local Zoom emulator that `make run` starts (devtools/zoom_emulator.py).

        The practice's Zoom app is the emulator's demo app, entered once; Amelia, Ben and Chloe use it with
        their own Zoom users (Amelia and Chloe Licensed, Ben Basic: one meeting at a time), Dev has none yet
        (Options → Zoom → Set up picks his Zoom user). They are marked connected as the emulator would answer;
        "Test connection" re-checks against it.
        """
        from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
        from telehealth.crypto import encrypt
        from telehealth.models import ConnectionStatus, PracticeZoomApp, ZoomConnection

        PracticeZoomApp.objects.create(pk=PracticeZoomApp.SINGLETON_PK, account_id=DEMO_ACCOUNT_ID,
                                       client_id=DEMO_CLIENT_ID, client_secret_encrypted=encrypt(DEMO_CLIENT_SECRET))
        plans = {"amelia": 2, "ben": 1, "chloe": 2}
        for practitioner in practitioners:
            username = practitioner.user.username
            if username not in plans:
                continue
            ZoomConnection.objects.create(
                practitioner=practitioner, uses_practice_app=True, zoom_user=f"{username}@example.com",
                status=ConnectionStatus.CONNECTED, status_since=timezone.now(), last_tested_at=timezone.now(),
                zoom_user_name=practitioner.display_name, zoom_user_email=f"{username}@example.com",
                zoom_user_type=plans[username],
            )

    def _demo_webhook_secret(self) -> None:
        """The demo app's webhook secret token, which `make run` gives the emulator so its events verify here.

        Also set on a database seeded before the emulator sent webhooks, but only while the practice's app is
        still the emulator's demo app (a real app entered since keeps whatever token it has).
        """
        from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_WEBHOOK_SECRET
        from telehealth.crypto import encrypt
        from telehealth.models import PracticeZoomApp

        PracticeZoomApp.objects.filter(account_id=DEMO_ACCOUNT_ID, webhook_secret_encrypted="").update(
            webhook_secret_encrypted=encrypt(DEMO_WEBHOOK_SECRET))

    def _appointments(self, practice, practitioners, types, clients, rng) -> None:
        today = timezone.localdate(timezone=practice.zone)
        frontdesk = User.objects.get(username="frontdesk")
        for offset in range(-7, 8):
            day = today + timedelta(days=offset)
            for practitioner in practitioners:
                for shift in practitioner.working_hours.filter(weekday=day.weekday()):
                    minute = shift.starts_at.hour * 60 + shift.starts_at.minute
                    end = shift.ends_at.hour * 60 + shift.ends_at.minute
                    while minute < end:
                        kind = rng.choice(types)
                        if rng.random() < 0.25 or minute + kind.default_duration > end:
                            minute += 15
                            continue
                        starts_at = local_to_aware(day, time(minute // 60, minute % 60), practice.zone)
                        result = appointment_book(
                            actor=frontdesk, client=rng.choice(clients), practitioner=practitioner,
                            location=shift.location, appointment_type=kind, starts_at=starts_at,
                        )
                        if offset < 0:
                            appointment_set_status(actor=frontdesk, appointment=result.appointment,
                                                   status=rng.choice([Status.COMPLETED] * 8 + [Status.DID_NOT_ATTEND]))
                        minute += kind.default_duration
