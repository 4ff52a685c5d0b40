import zoneinfo
from typing import cast

from django import forms
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Q
from django.utils import timezone

from practice.errors import ApplicationError
from practice.models import (
    ADDRESS_MAX,
    WEEKDAYS,
    Client,
    Location,
    validate_colour,
    validate_five_minutes,
    validate_multiline_text,
    validate_quarter_hour,
    validate_single_line,
)
from practice.phones import mobile_to_e164, phone_display
from practice.services import Shift, shift_overlaps, shift_text
from practice.timezones import is_reasonable_day


class MobileField(forms.CharField):
    """A mobile number as typed at the desk, cleaned to E.164 (AU numbers need no +61)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "tel", "autocomplete": "off", "placeholder": "0412 345 678"})

    def clean(self, value):
        value = super().clean(value)
        try:
            return mobile_to_e164(value or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid_mobile") from exc


class ClientForm(forms.ModelForm):
    mobile = MobileField()

    def clean_date_of_birth(self):
        born = self.cleaned_data.get("date_of_birth")
        if born is not None and not (is_reasonable_day(born) and born <= timezone.localdate()):
            raise forms.ValidationError("Enter a date of birth in the past (after 1900).")
        return born

    class Meta:
        model = Client
        fields = ["first_name", "last_name", "preferred_name", "date_of_birth", "mobile", "email",
                  "sms_reminders", "email_reminders", "notes"]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }


class NewClientForm(ClientForm):
    create_anyway = forms.BooleanField(
        required=False, label="Create anyway: this is a different person",
        help_text="Only needed when a client with the same name or mobile exists.")


# Options (issue 8). The services validate again through the models, for every other path. ----------------------

def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class PhoneField(forms.CharField):
    """A practice or location phone (landline, mobile, 1300…), cleaned to the form it is printed in."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "tel", "placeholder": "02 9000 1234"})

    def clean(self, value):
        value = super().clean(value)
        try:
            return phone_display(value or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid_phone") from exc


class ColourField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 7)
        kwargs.setdefault("validators", [validate_colour])
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "color"}))
        super().__init__(**kwargs)

    def clean(self, value):
        return (super().clean(value) or "").lower()


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class _InstanceForm(forms.Form):
    """A plain form whose initial values come from an instance: the service, not the form, saves."""

    def __init__(self, *args, instance=None, **kwargs) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", {name: getattr(instance, name) for name in self.base_fields
                                          if hasattr(instance, name)})
        super().__init__(*args, **kwargs)

    def add_service_errors(self, exc: ApplicationError) -> None:
        """The service's refusal on the field it is about, or above the form."""
        placed = False
        for name, errors in (exc.extra.get("errors") or {}).items():
            if name in self.fields:
                for error in errors:
                    self.add_error(name, error)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


class PracticeForm(_InstanceForm):
    name = forms.CharField(max_length=120, validators=[validate_single_line])
    phone = PhoneField()
    email = forms.EmailField(required=False)
    address = forms.CharField(max_length=ADDRESS_MAX, required=False, validators=[validate_multiline_text],
                              widget=forms.Textarea(attrs={"rows": 3}))
    time_zone = forms.ChoiceField(choices=time_zone_choices, help_text="The diary, reminders and the Scheduler "
                                  "use this zone's local time, with its daylight saving.")
    opens_at = forms.TimeField(label="Opens at", widget=_time_input(), validators=[validate_quarter_hour],
                               help_text="The diary's first row.")
    closes_at = forms.TimeField(label="Closes at", widget=_time_input(), validators=[validate_quarter_hour],
                                help_text="The diary's last row ends here.")
    client_cancel_notice_hours = forms.IntegerField(
        label="Cancellation notice (hours)", min_value=0, max_value=14 * 24,
        help_text="Clients can cancel from their appointment link until this many hours before the start; "
                  "after that the page asks them to phone.")

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens is not None and closes is not None and closes <= opens:
            self.add_error("closes_at", "Closing time must be after opening time.")
        return cleaned


class LocationForm(_InstanceForm):
    name = forms.CharField(max_length=80, validators=[validate_single_line])
    address = forms.CharField(max_length=ADDRESS_MAX, required=False, validators=[validate_multiline_text],
                              widget=forms.Textarea(attrs={"rows": 3}))
    phone = PhoneField()
    colour = ColourField(initial="#4f7cac", help_text="Shown beside the location, as #rrggbb.")
    is_telehealth = forms.BooleanField(
        label="Telehealth", required=False,
        help_text="Reminders for appointments here say “Telehealth (online)” and never print a street address.")


def _location_choices(*also: Location | None) -> models.QuerySet[Location]:
    """Active locations, and those already chosen (kept while inactive, so an edit does not drop them)."""
    kept = [location.pk for location in also if location is not None]
    return Location.objects.filter(Q(is_active=True) | Q(pk__in=kept)).order_by("name")


class PractitionerForm(_InstanceForm):
    display_name = forms.CharField(label="Name in the diary", max_length=80, validators=[validate_single_line])
    profession = forms.CharField(max_length=80, required=False, validators=[validate_single_line],
                                 help_text="E.g. Physiotherapist; shown under the name in the diary.")
    colour = ColourField(initial="#2e7d6b", help_text="The diary column's colour, as #rrggbb.")
    default_location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False,
                                              empty_label="— none —")
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="An inactive practitioner has no column in the diary.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.default_location if self.instance is not None else None
        cast(forms.ModelChoiceField, self.fields["default_location"]).queryset = _location_choices(current)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.get_username()})" if full_name else obj.get_username()


class NewPractitionerForm(PractitionerForm):
    user = UserChoiceField(queryset=User.objects.none(), label="User",
                           help_text="A user with the Practitioner role who has no profile yet.")

    field_order = ["user", "display_name", "profession", "colour", "default_location", "is_active"]

    def __init__(self, *args, candidates: models.QuerySet[User], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(UserChoiceField, self.fields["user"]).queryset = candidates


class ShiftForm(forms.Form):
    """One row of the week: a blank row (no times) is ignored, so each day can offer an empty one."""

    # Rows are grouped under their day (each day offers an empty row), so the day is not picked per row.
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, label="Day", widget=forms.HiddenInput)
    starts_at = forms.TimeField(required=False, label="From", widget=_time_input(),
                                validators=[validate_five_minutes])
    ends_at = forms.TimeField(required=False, label="To", widget=_time_input(), validators=[validate_five_minutes])
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, empty_label="— choose —")

    def __init__(self, *args, locations: models.QuerySet[Location], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["location"]).queryset = locations

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("starts_at") is None and data.get("ends_at") is None

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts is None and ends is None and not {"starts_at", "ends_at"} & set(self.errors):
            return cleaned  # an unused row
        if starts is None and "starts_at" not in self.errors:
            self.add_error("starts_at", "Enter when the shift starts.")
        if ends is None and "ends_at" not in self.errors:
            self.add_error("ends_at", "Enter when the shift ends.")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error("ends_at", "A shift must end after it starts.")
        if cleaned.get("location") is None and "location" not in self.errors:
            self.add_error("location", "Choose where this shift is.")
        return cleaned


class BaseShiftFormSet(forms.BaseFormSet):
    def __init__(self, *args, locations: models.QuerySet[Location], **kwargs) -> None:
        self.locations = locations
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "locations": self.locations}

    @property
    def empty_form(self):
        form = self.form(auto_id=self.auto_id, prefix=self.add_prefix("__prefix__"), empty_permitted=True,
                         use_required_attribute=False, locations=self.locations, renderer=self.renderer)
        self.add_fields(form, None)
        return form

    def rows(self) -> list[tuple[str, forms.Form]]:
        """Each form with its day's name on the first row of that day ("" on the others)."""
        names, previous, rows = dict(WEEKDAYS), None, []
        for form in self.forms:
            try:
                weekday = int(form["weekday"].value())
            except (TypeError, ValueError):
                weekday = -1
            rows.append((names.get(weekday, "?") if weekday != previous else "", form))
            previous = weekday
        return rows

    def shifts(self) -> list[Shift]:
        return [Shift(form.cleaned_data["weekday"], form.cleaned_data["starts_at"], form.cleaned_data["ends_at"],
                      form.cleaned_data["location"])
                for form in self.forms if not form.is_blank]

    def clean(self) -> None:
        if any(self.errors):
            return
        for first, second in shift_overlaps(self.shifts()):
            message = (f"{shift_text(second.weekday, second.starts_at, second.ends_at, second.location)} overlaps "
                       f"{shift_text(first.weekday, first.starts_at, first.ends_at, first.location)}.")
            raise forms.ValidationError(message, code="overlapping_shifts")


# Ten shifts a day and a blank row for each day are more than any week needs; a longer POST is refused.
SHIFT_ROWS_MAX = 77
ShiftFormSet = cast(type[BaseShiftFormSet], forms.formset_factory(
    ShiftForm, formset=BaseShiftFormSet, extra=0, max_num=SHIFT_ROWS_MAX, validate_max=True,
    absolute_max=SHIFT_ROWS_MAX))
