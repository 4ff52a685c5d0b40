"""The three roles of DESIGN.md §1 as groups, with the model permissions Options (Django admin) uses.

What each role may do in the diary is decided by role membership (practice/roles.py); these model
permissions decide what a practice admin can edit under Options. Later apps grant their own.
"""

from django.db import migrations

from practice.roles import grant_permissions

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
    grant_permissions(apps, ROLES)


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
