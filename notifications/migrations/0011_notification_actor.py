"""Who caused each notification. A constant default on PostgreSQL 11 and later is stored
in the catalogue, not written to each row: the notifications table is not rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0010_feed_notification_key_checked'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='actor',
            field=models.CharField(blank=True, default='', max_length=150),
        ),
    ]
