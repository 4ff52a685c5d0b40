"""Needs attention: every background outcome a person must act on, gathered from each app (DESIGN.md §6).

Each app says what of its own needs a person (`*_needing_attention` selectors) and how to act on it
(its services); this module only puts them in one list, oldest first, with the actions a page offers.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from reminders import selectors as reminder_selectors
from reminders.models import InboundMessage, Message, MessageStatus, ScheduledReminder
from scheduling import selectors as scheduling_selectors
from scheduling.models import Appointment
from scheduling.selectors import diary_url
from telehealth import selectors as telehealth_selectors
from telehealth.models import MeetingState, OrphanSweep, ZoomConnection, ZoomDailyUsage, ZoomMeeting
from telehealth.services import next_utc_midnight


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    style: str = ""  # "primary", "danger-outline"
    confirm: str = ""  # asked before a POST whose effect a person might not expect


@dataclass
class Item:
    kind: str
    title: str
    reason: str
    since: datetime | None
    appointment: Appointment | None = None
    actions: list[Action] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (label, url) for what is fixed on another page


def _sources() -> list[QuerySet]:
    return [
        telehealth_selectors.meetings_needing_attention(),
        telehealth_selectors.connections_failing(),
        telehealth_selectors.connections_on_daily_hold(),
        telehealth_selectors.daily_usage_warnings(),
        telehealth_selectors.orphan_sweeps_to_report(),
        reminder_selectors.messages_needing_attention(),
        reminder_selectors.scheduled_reminders_needing_attention(),
        scheduling_selectors.client_cancels_needing_attention(),
        reminder_selectors.cancel_requests_needing_attention(),
    ]


def attention_count() -> int:
    """How many items the list has, in one query (it is on every page's top bar)."""
    first, *others = (queryset.order_by().values_list("pk") for queryset in _sources())
    return first.union(*others, all=True).count()


def _appointments_by_meeting(meetings: list[ZoomMeeting]) -> dict[int, Appointment]:
    wanted = {m.pk for m in meetings}
    by_meeting: dict[int, Appointment] = {}
    current = Appointment.objects.filter(zoom_meeting__in=wanted).select_related("client", "practitioner")
    for appointment in current:
        by_meeting[appointment.zoom_meeting_id] = appointment  # type: ignore[index]
    earlier = {m.pk: m.appointment_ref_id for m in meetings
               if m.pk not in by_meeting and getattr(m, "appointment_ref_id", None)}
    if earlier:
        found = Appointment.objects.in_bulk(set(earlier.values()))
        by_meeting.update({pk: found[ref] for pk, ref in earlier.items() if ref in found})
    return by_meeting


def _local(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%a %d %b %H:%M}" if moment else ""


def _meeting_items(meetings: list[ZoomMeeting]) -> list[Item]:
    appointments = _appointments_by_meeting(meetings)
    items = []
    for meeting in meetings:
        appointment = appointments.get(meeting.pk)

        def act(action: str, meeting: ZoomMeeting = meeting) -> str:
            return reverse("attention-meeting", args=[meeting.pk, action])

        when = f"{meeting.practitioner}, {_local(meeting.starts_at)}"
        current = appointment is not None and appointment.zoom_meeting_id == meeting.pk \
            and not appointment.is_cancelled and appointment.starts_at > timezone.now()
        if meeting.state == MeetingState.DELETED and meeting.deleted_in_zoom_at is not None:
            actions = [Action("Re-create", act("try-again"), "primary")] if current else []
            actions.append(Action("Mark resolved", act("resolve")))
            items.append(Item("zoom", f"Zoom meeting deleted in Zoom: {when}",
                              f"Someone deleted it in Zoom, outside the app, at {_local(meeting.deleted_in_zoom_at)}."
                              " Its link, meeting ID and passcode no longer work: re-create it and send the client "
                              "the new details.", meeting.deleted_in_zoom_at, appointment, actions))
            continue
        if meeting.state == MeetingState.ACTIVE and meeting.changed_in_zoom_at is not None:
            actions = [Action("Restore", act("restore"), "primary")] if current else []
            actions.append(Action("Mark resolved", act("resolve"), confirm="The change made in Zoom stays."))
            items.append(Item("zoom", f"Zoom meeting changed in Zoom: {when}",
                              " ".join(meeting.zoom_change_texts) or "Changed in Zoom, outside the app.",
                              meeting.changed_in_zoom_at, appointment, actions))
            continue
        if meeting.state == MeetingState.FAILED:
            actions = []
            if appointment is not None and appointment.zoom_meeting_id == meeting.pk and not appointment.is_cancelled \
                    and appointment.starts_at > timezone.now():
                actions.append(Action("Try again", act("try-again"), "primary",
                                      "Check the practitioner's Zoom account first: if the meeting is there, "
                                      "it will be found and used rather than made twice."))
            actions.append(Action("Mark resolved", act("resolve")))
            items.append(Item("zoom", f"Zoom meeting not created: {when}", meeting.last_error,
                              meeting.updated_at, appointment, actions))
            continue
        deleting = meeting.state == MeetingState.PENDING_DELETE
        title = (f"Zoom meeting still to be deleted: {when}" if deleting
                 else f"Zoom meeting still to be created: {when}")
        connection = getattr(meeting.practitioner, "zoom_connection", None)
        hold = connection.daily_limit_until if connection is not None and not deleting else None
        held = hold is not None and hold > timezone.now()
        actions = [] if held else [Action("Retry now", act("retry"), "primary")]
        actions.append(Action("Mark resolved", act("resolve"),
                              confirm=("Only if you deleted the meeting in Zoom yourself." if deleting
                                       else "Only if you have checked the meeting in Zoom yourself.")))
        reason = meeting.last_error or "Waiting for Zoom."
        if held:
            reason = f"Held by Zoom's daily limit until {_local(hold)}. {reason}"
        items.append(Item("zoom", title, reason, meeting.pending_since or meeting.created_at, appointment,
                          actions))
    return items


def _connection_items(connections: list[ZoomConnection]) -> list[Item]:
    return [
        Item("zoom", f"Zoom connection failing: {connection.practitioner}",
             connection.status_reason or "The connection does not work.", connection.status_since,
             link=("Fix under Options → Zoom", reverse("zoom-connection", args=[connection.practitioner_id])))
        for connection in connections
    ]


def _daily_hold_items(connections: list[ZoomConnection]) -> list[Item]:
    return [
        Item("zoom", f"Zoom's daily limit reached: {connection.practitioner}",
             f"Zoom's daily limit for {connection.zoom_user} is used up (100 meetings created or changed per "
             f"user per UTC day). New meetings for {connection.practitioner} wait until "
             f"{_local(connection.daily_limit_until)} (00:00 UTC), then are made automatically.",
             connection.updated_at)
        for connection in connections
    ]


def _daily_warning_items(usages: list[ZoomDailyUsage]) -> list[Item]:
    """A Zoom user nearing the 100 of the UTC day: the rest of today's bookings and moves may wait till tomorrow."""
    whose = {connection.zoom_user.lower(): connection.practitioner for connection in
             ZoomConnection.objects.filter(zoom_user__in=[u.host_user for u in usages]).select_related("practitioner")
             } if usages else {}
    items = []
    for usage in usages:
        name = whose.get(usage.host_user)
        items.append(Item(
            "zoom", f"Zoom's daily limit nearly used: {name or usage.host_user}",
            f"{usage.count} of the 100 meeting creates and changes Zoom allows {usage.host_user} per UTC day are "
            f"used. Past 100, new meetings wait until {_local(next_utc_midnight())} "
            "(00:00 UTC).", timezone.now()))
    return items


def _orphan_sweep_items(sweeps: list[OrphanSweep]) -> list[Item]:
    items = []
    for sweep in sweeps:
        count = len(sweep.deleted)
        parts = []
        if count:
            hosts = sorted({entry["host"] for entry in sweep.deleted})
            parts.append(f"Deleted {count} Zoom meeting{'s' if count != 1 else ''} the app had made but no longer "
                         f"has an appointment for ({', '.join(hosts)}).")
        parts += [f"{problem['host']}: {problem['problem']}" for problem in sweep.problems]
        title = (f"Zoom orphan sweep deleted {count} meeting{'s' if count != 1 else ''}" if count
                 else "Zoom orphan sweep could not finish")
        items.append(Item("zoom", title, " ".join(parts), sweep.ran_at,
                          actions=[Action("Dismiss", reverse("attention-sweep", args=[sweep.pk]))]))
    return items


def _message_items(messages: list[Message]) -> list[Item]:
    items = []
    for message in messages:
        def act(action: str, message: Message = message) -> str:
            return reverse("attention-message", args=[message.pk, action])

        to = message.client or "an unknown number"
        what = f"{message.get_kind_display()} by {message.get_channel_display()} to {to}"
        if message.status == MessageStatus.FAILED:
            title = f"Not sent: {what}"
            actions = [Action("Send again", act("send-again"), "primary"),
                       Action("Mark resolved", act("not-sent"))]
        else:
            title = f"May or may not have been sent: {what}"
            actions = [Action("Mark as sent", act("sent"), "primary",
                              "Only if you know the client received it."),
                       Action("Send again", act("send-again"), confirm="The client may get it twice."),
                       Action("Mark as not sent", act("not-sent"), confirm="Any credits it took are refunded.")]
        items.append(Item("message", title, message.error or message.get_status_display(),
                          message.created_at, message.appointment, actions))
    return items


def _reminder_items(reminders: list[ScheduledReminder]) -> list[Item]:
    items = []
    for reminder in reminders:
        def act(action: str, reminder: ScheduledReminder = reminder) -> str:
            return reverse("attention-reminder", args=[reminder.pk, action])

        actions = []
        if reminder.appointment.starts_at > timezone.now():
            actions.append(Action("Send now", act("send"), "primary"))
        actions.append(Action("Dismiss", act("dismiss")))
        held = reminder.state == ScheduledReminder.State.HELD
        title = (f"Usual {reminder.get_channel_display()} reminder waiting for SMS credits: "
                 f"{reminder.appointment.client}" if held else
                 f"Usual {reminder.get_channel_display()} reminder not sent: {reminder.appointment.client}")
        label = reminder.get_reason_display() if reminder.reason else ""
        # A note that starts with its reason's label says it already ("Too late: the appointment started …").
        reason = reminder.note if label and reminder.note.startswith(label) else " — ".join(
            part for part in (label, reminder.note) if part)
        if held:
            reason = f"{reason or 'No SMS credits'}. It is sent automatically once credits are bought."
        items.append(Item("reminder", title, reason or "Not sent.", reminder.updated_at, reminder.appointment,
                          actions))
    return items


def _client_cancel_items(appointments: list[Appointment]) -> list[Item]:
    return [
        Item("appointment", f"Cancelled by the client (link): {appointment.client}, {appointment.practitioner} "
                            f"{_local(appointment.starts_at)}",
             "The client cancelled from their appointment link. The time is free to book again; this item goes "
             "once the time has passed.", appointment.client_cancel_unseen_since, appointment,
             [Action("Mark seen", reverse("attention-appointment", args=[appointment.pk, "seen"]))])
        for appointment in appointments
    ]


def _cancel_request_items(requests: list[InboundMessage]) -> list[Item]:
    items = []
    for request in requests:
        appointment = request.appointment
        if appointment is None:  # never: the selector lists only requests about a booked appointment
            continue
        day = timezone.localtime(appointment.starts_at).date()
        keep = Action("Keep", reverse("attention-sms", args=[request.pk, "keep"]),
                      confirm="The appointment stays booked. Let the client know if they expect a call.")
        items.append(Item("sms", f"Client asks to cancel by SMS: {appointment.client}, {_local(appointment.starts_at)}",
                          f"They replied “{request.body.strip()[:80]}” to the SMS about their appointment with "
                          f"{appointment.practitioner}. Cancel it (the usual cancel, from its panel) or keep it.",
                          request.received_at, appointment, [keep],
                          link=("Cancel appointment…", diary_url(day, open=appointment.pk))))
    return items


def attention_items() -> list[Item]:
    (meetings, connections, holds, usage_warnings, sweeps, messages, reminders, client_cancels,
     cancel_requests) = _sources()
    items = [
        *_connection_items(list(connections.select_related("practitioner"))),
        *_daily_hold_items(list(holds.select_related("practitioner"))),
        *_daily_warning_items(list(usage_warnings)),
        *_orphan_sweep_items(list(sweeps)),
        *_meeting_items(list(meetings.select_related("practitioner__zoom_connection"))),
        *_message_items(list(messages.select_related("client", "appointment__practitioner"))),
        *_reminder_items(list(reminders.select_related("appointment__client", "appointment__practitioner"))),
        *_client_cancel_items(list(client_cancels.select_related("client", "practitioner"))),
        *_cancel_request_items(list(cancel_requests.select_related("appointment__client",
                                                                   "appointment__practitioner"))),
    ]
    items.sort(key=lambda item: item.since or timezone.now())
    return items
