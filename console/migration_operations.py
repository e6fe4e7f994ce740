"""Migration operations that keep a large table writable while they run."""

from typing import Any

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """AddIndex that builds the index CONCURRENTLY on PostgreSQL, so writes to a big table
    (notifications, deliveries) go on meanwhile; elsewhere a plain CREATE INDEX. Its
    migration must be non-atomic (`atomic = False`): PostgreSQL refuses a concurrent build
    inside a transaction."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any,
                          to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)
