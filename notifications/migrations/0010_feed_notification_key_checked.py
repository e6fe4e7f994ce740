"""The database checks a feed entry's notification again.

Entries whose notification is gone are deleted first. On PostgreSQL the key is then added
NOT VALID, which takes the table's lock only for a moment (rows already there are not
read), and validated in a step of its own, which reads the whole table without blocking
writes to it. The migration is not atomic so that each step commits on its own: the
validation does not hold the locks of the delete or of the ALTER. Other databases (SQLite)
take Django's AlterField, which rebuilds the table.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef

TABLE = "notifications_feedentry"
# The name Django gives this key, so that a later AlterField finds it as its own.
KEY = "notifications_feeden_notification_id_1470708f_fk_notificat"

CHECKED = migrations.AlterField(
    model_name="feedentry",
    name="notification",
    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                            related_name="feed_entries", to="notifications.notification"),
)


def delete_orphans(apps, schema_editor) -> None:
    FeedEntry = apps.get_model("notifications", "FeedEntry")
    Notification = apps.get_model("notifications", "Notification")
    FeedEntry.objects.filter(
        ~Exists(Notification.objects.filter(pk=OuterRef("notification_id")))).delete()


def on_postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class OnPostgreSQL(migrations.RunSQL):
    """SQL that runs on PostgreSQL only."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class ElsewhereThanPostgreSQL(migrations.AlterField):
    """Django's AlterField on every database but PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if not on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ("notifications", "0009_attempt_bodies"),
    ]

    operations = [
        migrations.RunPython(delete_orphans, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[CHECKED],
            database_operations=[
                OnPostgreSQL(
                    f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{KEY}" FOREIGN KEY '
                    '("notification_id") REFERENCES "notifications_notification" ("id") '
                    "DEFERRABLE INITIALLY DEFERRED NOT VALID",
                    reverse_sql=f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{KEY}"'),
                OnPostgreSQL(f'ALTER TABLE "{TABLE}" VALIDATE CONSTRAINT "{KEY}"',
                             reverse_sql=migrations.RunSQL.noop),
                ElsewhereThanPostgreSQL(CHECKED.model_name, CHECKED.name, CHECKED.field),
            ],
        ),
    ]
