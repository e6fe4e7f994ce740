"""The local rack: behaves like a real rack, inside the console.

Each operation changes the modelled rack and emits the same envelope a real rack sends,
through the same pipeline. Slow parts (a build, a rolling deploy) run as Celery tasks.
"""


from django.db import IntegrityError, transaction

from racks.driver import RackError, Source, check_name, check_room_on
from racks.env import check_based_on, check_env
from racks.events import acting_user, build_progressed, emit
from racks.models import (
    App,
    Build,
    Capped,
    Formation,
    Rack,
    Release,
    Resource,
    ResourceType,
    new_object_id,
)
from racks.rack_update import changes_asked
from racks.releases import make_release_active
from racks.tasks import finish_rolling_deploy, run_build
from racks.text import without_bidi_controls

VERSION_MAX = 40
INSTANCE_COUNT_MAX = 1000


class LocalRack:
    def create_app(self, rack: Rack, name: str) -> App:
        check_name("The app", name)
        with transaction.atomic():
            check_room_on(rack, Capped.APPS)
            try:
                with transaction.atomic():
                    app = App.objects.create(rack=rack, name=name)
            except IntegrityError:
                raise RackError(f"An app named {name} already exists on {rack.name}.",
                                field="name") from None
            emit(rack, "app:create", {"app": name, "name": name})
        return app

    def delete_app(self, app: App) -> None:
        with transaction.atomic():
            rack, name = app.rack, app.name
            app.delete()
            emit(rack, "app:delete", {"app": name, "name": name})

    def start_build(self, app: App, *, description: str = "", fail: bool = False,
                    source: Source | None = None) -> Build:
        description = without_bidi_controls(description)
        if len(description) > 200:
            raise RackError("A build description is at most 200 characters.",
                            field="description")
        with transaction.atomic():
            build = Build.objects.create(id=new_object_id("B"), app=app,
                                         description=description, should_fail=fail)
            # The app's open pages list it before it starts.
            transaction.on_commit(lambda: build_progressed(build))
            # The build ends in a worker: its events name who started it.
            actor = acting_user()
            transaction.on_commit(lambda: run_build.delay(build.id, actor))
        return build

    def set_env(self, app: App, env: dict[str, str], *,
                based_on: str | None = None) -> Release:
        try:
            check_env(env)  # callers check it first; this keeps the driver's own data sound
        except ValueError as problem:
            raise RackError(str(problem), field="env") from None
        with transaction.atomic():
            App.objects.select_for_update().filter(pk=app.pk).first()  # one save at a time
            latest = app.releases.order_by("-created_at").first()
            try:
                check_based_on(latest.id if latest else "", based_on, app.name)
            except ValueError as problem:
                raise RackError(str(problem), field="env") from None
            release = Release.objects.create(
                id=new_object_id("R"), app=app, env=env,
                build=latest.build if latest else None,
            )
            emit(app.rack, "release:create", {"id": release.id, "app": app.name})
        return release

    def promote(self, release: Release, *, force: bool = False) -> None:
        if release.active:
            raise RackError(f"Release {release.id} is already the live release.")
        app = release.app
        with transaction.atomic():
            make_release_active(release)
            emit(app.rack, "release:promote", {"id": release.id, "app": app.name},
                 status="start")
            actor = acting_user()
            transaction.on_commit(lambda: finish_rolling_deploy.delay(release.id, actor))

    def scale(self, app: App, process: str, count: int, *, cpu: int | None = None,
              memory: int | None = None) -> None:
        check_name("The process", process, field="process")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100:
            raise RackError("A process runs between 0 and 100 copies.", field="count")
        release = app.active_release
        if release is None:
            raise RackError(f"{app.name} has no live release yet: promote one before scaling.")
        with transaction.atomic():
            sizes = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
            Formation.objects.update_or_create(app=app, process=process,
                                               defaults={"count": count, **sizes})
            emit(app.rack, "release:scale", {"id": release.id, "app": app.name})

    def create_resource(self, rack: Rack, name: str, type: str) -> Resource:
        check_name("The resource", name)
        if type not in ResourceType.values:
            raise RackError("A resource type is one of " + ", ".join(ResourceType.values) + ".",
                            field="type")
        with transaction.atomic():
            check_room_on(rack, Capped.RESOURCES)
            try:
                with transaction.atomic():
                    resource = Resource.objects.create(rack=rack, name=name, type=type)
            except IntegrityError:
                raise RackError(f"A resource named {name} already exists on {rack.name}.",
                                field="name") from None
            emit(rack, "resource:create", {"name": name, "type": type})
        return resource

    def delete_resource(self, resource: Resource) -> None:
        with transaction.atomic():
            rack, name, kind = resource.rack, resource.name, resource.type
            resource.delete()
            emit(rack, "resource:delete", {"name": name, "type": kind})

    def update_rack(self, rack: Rack, *, version: str | None = None, count: int | None = None,
                    instance_type: str | None = None) -> None:
        changed = changes_asked(rack, version=version, count=count,
                                instance_type=instance_type)
        if "version" in changed and not 0 < len(str(changed["version"])) <= VERSION_MAX:
            raise RackError(f"A rack version is 1 to {VERSION_MAX} characters.",
                            field="version")
        if "count" in changed and (isinstance(count, bool) or not isinstance(count, int) or
                                   not 1 <= count <= INSTANCE_COUNT_MAX):
            raise RackError(f"A rack runs between 1 and {INSTANCE_COUNT_MAX} instances.",
                            field="count")
        if "type" in changed and not 0 < len(str(changed["type"])) <= 40:
            raise RackError("An instance type is 1 to 40 characters, e.g. t3.small.",
                            field="instance_type")
        fields = {"version": "version", "count": "instance_count", "type": "instance_type"}
        with transaction.atomic():
            for key, value in changed.items():
                setattr(rack, fields[key], int(value) if key == "count" else value)
            rack.save(update_fields=[fields[key] for key in changed])
            emit(rack, "rack:update", {key: str(value) for key, value in changed.items()})
