"""API tokens get a name, a last use and an expiry: tokens made before this get a details
row and expire 90 days from the migration (they never expired before)."""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def give_existing_tokens_details_and_expiry(apps, schema_editor):
    AuthToken = apps.get_model("knox", "AuthToken")
    TokenDetails = apps.get_model("racks", "TokenDetails")
    AuthToken.objects.filter(expiry__isnull=True).update(
        expiry=timezone.now() + timedelta(days=90))
    TokenDetails.objects.bulk_create(
        [TokenDetails(token_id=digest) for digest in
         AuthToken.objects.filter(details__isnull=True).values_list("digest", flat=True)])


class Migration(migrations.Migration):

    dependencies = [
        ('knox', '0009_extend_authtoken_field'),
        ('racks', '0003_rack_caps'),
    ]

    operations = [
        migrations.CreateModel(
            name='TokenDetails',
            fields=[
                ('token', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='details', serialize=False, to='knox.authtoken')),
                ('name', models.CharField(blank=True, default='', max_length=100)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RunPython(give_existing_tokens_details_and_expiry,
                             migrations.RunPython.noop),
    ]
