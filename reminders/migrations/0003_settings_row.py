"""The reminder settings row exists from the start, so no page creates it while rendering."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("reminders", "ReminderSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("reminders", "0002_admin_permissions")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
