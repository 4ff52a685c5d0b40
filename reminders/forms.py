from typing import cast

from django import forms

from practice.timezones import validate_reasonable_day
from reminders import usual
from reminders.models import (
    LEAD_HOURS_MAX,
    LOW_BALANCE_MAX,
    PURCHASE_MAX,
    Channel,
    ReminderSettings,
    UsualTemplate,
    validate_note,
)


class UsualTemplateForm(forms.ModelForm):
    class Meta:
        model = UsualTemplate
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}

    def clean_subject(self) -> str:
        # Checked before newlines are normalised: a subject is one header line (CR/LF fails every email).
        if "\r" in self.cleaned_data["subject"] or "\n" in self.cleaned_data["subject"]:
            raise forms.ValidationError("Write the subject on one line (no line breaks).")
        return self._clean_template("subject")

    def clean_body(self) -> str:
        return self._clean_template("body")

    def _clean_template(self, name: str) -> str:
        # Browsers post CRLF; stored as LF so the SMS costs what the preview counted.
        text = usual.normalise_newlines(self.cleaned_data[name])
        usual.validate_template(text)
        return text


class ReminderSettingsForm(forms.ModelForm):
    """The Scheduler's settings. The bounds are also model validators, so the admin refuses the same values."""

    lead_hours = forms.IntegerField(label="Lead time (hours)", min_value=1, max_value=LEAD_HOURS_MAX,
                                    help_text=f"The Scheduler sends usual reminders this long before (1 to "
                                              f"{LEAD_HOURS_MAX} hours).")
    low_balance_warning = forms.IntegerField(min_value=0, max_value=LOW_BALANCE_MAX,
                                             help_text="Warn when fewer SMS credits remain.")

    class Meta:
        model = ReminderSettings
        fields = ["scheduler_enabled", "lead_hours", "quiet_start", "quiet_end", "low_balance_warning"]
        widgets = {"quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class CreditPurchaseForm(forms.Form):
    amount = forms.IntegerField(label="Credits bought", min_value=1, max_value=PURCHASE_MAX)
    note = forms.CharField(max_length=200, required=False, help_text="e.g. the invoice number",
                           validators=[validate_note])


class BulkForm(forms.Form):
    day = forms.DateField(widget=forms.HiddenInput, validators=[validate_reasonable_day])
    appointments = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=False)
    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple,
                                         initial=[Channel.SMS, Channel.EMAIL])
    again = forms.BooleanField(label="Send again to those already reminded", required=False)

    def __init__(self, *args, appointment_ids: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["appointments"]).choices = [(pk, pk) for pk in appointment_ids]

    def clean_appointments(self) -> list[int]:
        if not self.cleaned_data["appointments"]:
            raise forms.ValidationError("Select at least one appointment.")
        return self.cleaned_data["appointments"]


class MessageFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    kind = forms.ChoiceField(required=False)
    day = forms.DateField(required=False, validators=[validate_reasonable_day],
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, **kwargs) -> None:
        from reminders.models import Kind, MessageStatus

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", "Any status"), *MessageStatus.choices]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "Any kind"), *Kind.choices]
