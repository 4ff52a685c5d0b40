"""Practice admins change the reminder settings under Options."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="Practice admin").first()
    if admin is not None:
        admin.permissions.add(*Permission.objects.filter(content_type__app_label="reminders",
                                                         codename__in=["view_remindersettings",
                                                                       "change_remindersettings"]))


class Migration(migrations.Migration):
    dependencies = [("reminders", "0001_initial"), ("scheduling", "0003_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
