"""A `demo` user whose password is still the published `rack-console-demo` is no longer a
superuser or staff: older consoles created it as a superuser, with DEBUG off too, and
/admin/ showed every tenant to anyone who read the README."""

from django.contrib.auth.hashers import check_password
from django.db import migrations


def strip_published_demo_user(apps, schema_editor):
    User = apps.get_model("auth", "User")
    for user in User.objects.filter(username="demo").filter(is_superuser=True) | \
            User.objects.filter(username="demo", is_staff=True):
        if check_password("rack-console-demo", user.password):
            user.is_superuser = False
            user.is_staff = False
            user.save(update_fields=["is_superuser", "is_staff"])


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('racks', '0004_token_details'),
    ]

    operations = [
        migrations.RunPython(strip_published_demo_user, migrations.RunPython.noop),
    ]
