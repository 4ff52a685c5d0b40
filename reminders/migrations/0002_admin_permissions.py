"""Practice admins change the reminder settings under Options."""

from django.db import migrations

from practice.roles import grant_permissions


def grant(apps, schema_editor):
    grant_permissions(apps, {"Practice admin": ["reminders.view_remindersettings",
                                                "reminders.change_remindersettings"]})


class Migration(migrations.Migration):
    dependencies = [("reminders", "0001_initial"), ("scheduling", "0003_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
