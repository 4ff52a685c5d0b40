"""The three roles of DESIGN.md §1 as groups, with the model permissions Options (Django admin) uses.

What each role may do in the diary is decided by role membership (practice/roles.py); these model
permissions decide what a practice admin can edit under Options. Later apps grant their own.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Front desk": [
        "practice.view_client", "practice.add_client", "practice.change_client",
        "practice.view_location", "practice.view_practitioner",
        "scheduling.view_appointment", "scheduling.add_appointment", "scheduling.change_appointment",
        "scheduling.view_appointmenttype",
    ],
    "Practitioner": [
        "practice.view_client", "practice.add_client", "practice.view_location", "practice.view_practitioner",
        "scheduling.view_appointment", "scheduling.add_appointment", "scheduling.change_appointment",
        "scheduling.view_appointmenttype",
    ],
    "Practice admin": [
        *(f"practice.{verb}_{model}" for verb in ("view", "add", "change", "delete")
          for model in ("practice", "location", "practitioner", "workinghours", "client")),
        "practice.view_auditevent",
        *(f"scheduling.{verb}_appointmenttype" for verb in ("view", "add", "change", "delete")),
        "scheduling.view_appointment", "scheduling.add_appointment", "scheduling.change_appointment",
        *(f"auth.{verb}_user" for verb in ("view", "add", "change")),
        "auth.view_group",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now so they can be granted.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_no_overlap_postgres"),
        ("practice", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
