import json
from typing import cast

from django import forms
from django.db import models
from django.db.models import Q
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from practice.errors import ApplicationError
from practice.forms import MobileField
from practice.models import Client, Location, Practice, Practitioner
from practice.timezones import local_to_aware, validate_reasonable_day
from scheduling.models import (
    SERIES_WEEKS_MAX,
    TYPE_MINUTES_MAX,
    TYPE_MINUTES_MIN,
    AppointmentType,
    validate_colour,
    validate_type_name,
)
from scheduling.services import SERIES_COUNT_MAX, SERIES_COUNT_MIN, SETTABLE_STATUSES, SeriesRule, ends_after
from telehealth.models import ConnectionStatus

DURATION_HELP = "Minutes. Leave empty for the appointment type's usual length."
REPEAT_WEEKS_ERROR = f"Repeat every 1 to {SERIES_WEEKS_MAX} weeks."
REPEAT_COUNT_ERROR = f"A series has {SERIES_COUNT_MIN} to {SERIES_COUNT_MAX} appointments, this one included."


def _attrs_html(attrs: dict) -> str:
    """An element's attributes as Django's widget template writes them (django/forms/widgets/attrs.html)."""
    return "".join(f" {conditional_escape(name)}" if value is True else
                   f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
                   for name, value in attrs.items() if value is not False)


class _DrawnInput(forms.widgets.Input):
    """An <input> drawn in Python, with the markup of Django's template (django/forms/widgets/input.html) but
    without a template render per field: the appointment panel draws its move and cancel forms on every open
    (issue 10: the panel in <= 10 ms)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else f' value="{conditional_escape(str(widget["value"]))}"'
        return mark_safe(  # noqa: S308 - every part escaped above
            f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f'{shown}{_attrs_html(widget["attrs"])}>')


class DrawnDateInput(_DrawnInput, forms.DateInput):
    pass


class DrawnTimeInput(_DrawnInput, forms.TimeInput):
    pass


class DrawnNumberInput(_DrawnInput, forms.NumberInput):
    pass


class DrawnTextInput(_DrawnInput, forms.TextInput):
    pass


class _WhenFields(forms.Form):
    """Date, start time and duration in the practice's time zone, cleaned to aware starts_at/ends_at."""

    # Browsers' date and time inputs only take ISO values, whatever the language of the page.
    date = forms.DateField(widget=DrawnDateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                           validators=[validate_reasonable_day])
    start_time = forms.TimeField(label="Start", widget=DrawnTimeInput(attrs={"type": "time", "step": 300},
                                                                      format="%H:%M"))
    duration = forms.IntegerField(label="Duration", min_value=5, max_value=720, required=False,
                                  help_text=DURATION_HELP,
                                  widget=DrawnNumberInput(attrs={"step": 5, "inputmode": "numeric"}))

    def __init__(self, *args, practice: Practice, **kwargs) -> None:
        self.practice = practice
        super().__init__(*args, **kwargs)

    def clean_times(self, default_minutes: int | None) -> None:
        day, at = self.cleaned_data.get("date"), self.cleaned_data.get("start_time")
        if day is None or at is None:
            return
        try:
            starts_at = local_to_aware(day, at, self.practice.zone)
        except forms.ValidationError as exc:
            self.add_error("start_time", exc)
            return
        minutes = self.cleaned_data.get("duration") or default_minutes
        if minutes is None:
            self.add_error("duration", "Enter how many minutes the appointment takes.")
            return
        self.cleaned_data["starts_at"] = starts_at
        self.cleaned_data["ends_at"] = ends_after(starts_at, minutes)


class BookingForm(_WhenFields):
    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.none())
    appointment_type = forms.ModelChoiceField(label="Type", queryset=AppointmentType.objects.filter(is_active=True))
    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True))
    client_query = forms.CharField(label="Find client", required=False,
                                   widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off",
                                                                 "placeholder": "Name, mobile or email"}))
    client = forms.ModelChoiceField(queryset=Client.objects.all(), required=False, widget=forms.HiddenInput)
    new_first_name = forms.CharField(label="First name", max_length=60, required=False)
    new_last_name = forms.CharField(label="Last name", max_length=60, required=False)
    new_mobile = MobileField(label="Mobile")
    new_email = forms.EmailField(label="Email", required=False, max_length=254)
    # Shown with a "Possible duplicate" hint (practice/_duplicate_hint.html); the service refuses without it.
    new_create_anyway = forms.BooleanField(required=False)
    is_telehealth = forms.BooleanField(label="Telehealth (Zoom meeting)", required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # Repeat (optional): every N weeks, M appointments in all or until a date. Nothing is booked before the list
    # of dates and their clashes has been shown and confirmed.
    repeat_weeks = forms.IntegerField(
        label="Repeat every", required=False, min_value=1, max_value=SERIES_WEEKS_MAX,
        error_messages={"min_value": REPEAT_WEEKS_ERROR, "max_value": REPEAT_WEEKS_ERROR},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "narrow"}))
    repeat_count = forms.IntegerField(
        label="Appointments in all", required=False, min_value=SERIES_COUNT_MIN, max_value=SERIES_COUNT_MAX,
        error_messages={"min_value": REPEAT_COUNT_ERROR, "max_value": REPEAT_COUNT_ERROR},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "narrow"}))
    repeat_until = forms.DateField(label="or until", required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                   validators=[validate_reasonable_day])

    field_order = ["client_query", "client", "new_first_name", "new_last_name", "new_mobile", "new_email",
                   "new_create_anyway",
                   "practitioner", "date", "start_time", "appointment_type", "duration", "location",
                   "is_telehealth", "notes"]

    def __init__(self, *args, practitioners, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["practitioner"]).queryset = practitioners
        self.practitioners = practitioners

    def add_display_hints(self) -> None:
        """What the form needs only to be shown, not to book (three queries a booking that is saved skips)."""
        practitioners = self.practitioners
        # The page script fills in the duration, and ticks Telehealth for a type that is usually telehealth,
        # when the type changes.
        active_types = list(AppointmentType.objects.filter(is_active=True))
        type_attrs = self.fields["appointment_type"].widget.attrs
        type_attrs["data-durations"] = json.dumps({str(t.pk): t.default_duration for t in active_types})
        type_attrs["data-telehealth"] = json.dumps({str(t.pk): t.usually_telehealth for t in active_types})
        # Ticking Telehealth suggests the Telehealth location (R15); the help says who can have it.
        telehealth_location = Location.objects.filter(is_active=True, is_telehealth=True).first()
        if telehealth_location is not None:
            self.fields["is_telehealth"].widget.attrs["data-location"] = str(telehealth_location.pk)
        ready = [str(p) for p in practitioners.filter(zoom_connection__status=ConnectionStatus.CONNECTED)]
        self.fields["is_telehealth"].help_text = (
            f"Creates a Zoom meeting for this time. Available for: {', '.join(ready)}." if ready
            else "No practitioner has a working Zoom connection yet (Options → Zoom).")

    def clean(self):
        cleaned = super().clean()
        appointment_type = cleaned.get("appointment_type")
        self.clean_times(appointment_type.default_duration if appointment_type else None)
        has_new = cleaned.get("new_first_name") or cleaned.get("new_last_name")
        if cleaned.get("client") is None:
            if not has_new:
                self.add_error("client_query", "Choose a client, or add a new one below.")
            elif not (cleaned.get("new_first_name") and cleaned.get("new_last_name")):
                self.add_error("new_last_name", "A new client needs a first and a last name.")
        self._clean_repeat(cleaned)
        return cleaned

    def _clean_repeat(self, cleaned: dict) -> None:
        """cleaned_data["repeat"]: the SeriesRule, or None to book one appointment."""
        cleaned["repeat"] = None
        if any(name in self.errors for name in ("repeat_weeks", "repeat_count", "repeat_until")):
            return
        weeks, count, until = cleaned.get("repeat_weeks"), cleaned.get("repeat_count"), cleaned.get("repeat_until")
        if weeks is None:
            if count is not None or until is not None:
                self.add_error("repeat_weeks", "Say how many weeks apart the appointments are, or clear the repeat.")
            return
        if count is None and until is None:
            self.add_error("repeat_count", "Say how many appointments in all, or the date to repeat until.")
            return
        if count is not None and until is not None:
            self.add_error("repeat_until", "Give a number of appointments or an end date, not both.")
            return
        first_day = cleaned.get("date")
        if first_day is None:
            return
        rule = SeriesRule(interval_weeks=weeks, count=count, until=until)
        try:
            rule.days(first_day)
        except ApplicationError as exc:
            self.add_error("repeat_until" if until is not None else "repeat_count", exc.message)
            return
        cleaned["repeat"] = rule

    @property
    def new_client_fields(self) -> dict:
        return {
            "first_name": self.cleaned_data["new_first_name"].strip(),
            "last_name": self.cleaned_data["new_last_name"].strip(),
            "mobile": self.cleaned_data["new_mobile"],
            "email": self.cleaned_data["new_email"],
            "allow_duplicate": self.cleaned_data["new_create_anyway"],
        }


class SeriesScope(models.TextChoices):
    THIS = "this", "This appointment only"
    FOLLOWING = "following", "This and following"


def _scope_field(element_id: str) -> forms.ChoiceField:
    """Shown only for an appointment in a series; anything else is this appointment only. The move and cancel
    forms share the panel, so each has its own element id."""
    return forms.ChoiceField(label="Apply to", choices=SeriesScope.choices, initial=SeriesScope.THIS,
                             required=False, widget=forms.RadioSelect(attrs={"id": element_id}))


class ListedSelect(forms.Select):
    """A <select> of a plain list of (value, label) choices, drawn in Python: the same markup as forms.Select
    without a template per option. The appointment panel draws its move form on every open, practitioners
    and locations in it (issue 10: the panel in <= 10 ms; twenty options took ~1 ms through the templates)."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(item) for item in self.format_value(value)}
        options = format_html_join(
            "", '\n  <option value="{}"{}>{}</option>',
            ((choice, " selected" if str(choice) in chosen else "", label) for choice, label in self.choices))
        return format_html('<select name="{}"{}>{}\n</select>', name,
                           mark_safe(_attrs_html(self.build_attrs(self.attrs, attrs))), options)  # noqa: S308


def _list_choices(field: forms.ModelChoiceField) -> None:
    """Give the field's widget its choices as a list read by one ordinary query. (Django's own iterate the
    queryset with iterator(), a server-side cursor on PostgreSQL: three round trips for a short list.)"""
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.widget.choices = empty + [(item.pk, field.label_from_instance(item)) for item in field.queryset or ()]


class MoveForm(_WhenFields):
    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.none(), widget=ListedSelect)
    location = forms.ModelChoiceField(queryset=Location.objects.none(), widget=ListedSelect)
    scope = _scope_field("id_move_scope")

    def __init__(self, *args, practitioners, appointment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.appointment = appointment
        # Keep the current values choosable even if they were deactivated since.
        practitioner = cast(forms.ModelChoiceField, self.fields["practitioner"])
        practitioner.queryset = Practitioner.objects.filter(
            Q(pk__in=practitioners.values("pk")) | Q(pk=appointment.practitioner_id)
        )
        location = cast(forms.ModelChoiceField, self.fields["location"])
        location.queryset = Location.objects.filter(Q(is_active=True) | Q(pk=appointment.location_id))
        if not self.is_bound:  # shown to be filled in; a posted move only validates against the querysets
            _list_choices(practitioner)
            _list_choices(location)
        self.fields["duration"].help_text = ""

    def clean(self):
        cleaned = super().clean()
        self.clean_times(int(self.appointment.duration.total_seconds() // 60))
        return cleaned


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in SETTABLE_STATUSES])


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, widget=DrawnTextInput)
    scope = _scope_field("id_cancel_scope")



class AppointmentTypeForm(forms.Form):
    """Options → Appointment types. The service validates again through the model, for every other path."""

    name = forms.CharField(max_length=80, validators=[validate_type_name])
    default_duration = forms.IntegerField(label="Default duration (minutes)", min_value=TYPE_MINUTES_MIN,
                                          max_value=TYPE_MINUTES_MAX, initial=30,
                                          help_text=f"{TYPE_MINUTES_MIN} to {TYPE_MINUTES_MAX} minutes.",
                                          widget=forms.NumberInput(attrs={"step": 5, "inputmode": "numeric"}))
    colour = forms.CharField(max_length=7, initial="#6b8fd6", validators=[validate_colour],
                             help_text="Shown beside the type, as #rrggbb.",
                             widget=forms.TextInput(attrs={"type": "color"}))
    usually_telehealth = forms.BooleanField(
        label="Usually telehealth", required=False,
        help_text="Ticks Telehealth in the booking form when this type is chosen; it can still be unticked.")
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="An inactive type stays on past appointments but cannot be booked.")

    def __init__(self, *args, instance: AppointmentType | None = None, **kwargs) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", {name: getattr(instance, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = AppointmentType.objects.filter(name__iexact=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("An appointment type called “%(name)s” already exists (names are the same "
                                        "whatever their capitals).", params={"name": taken[0].name})
        return name

    def clean_colour(self) -> str:
        return self.cleaned_data["colour"].lower()
