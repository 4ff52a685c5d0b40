from django import forms
from django.utils import timezone

from practice.models import Client
from practice.phones import mobile_to_e164
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
