"""Every line of the catalogue, word for word as the seed has it."""

import pytest

from notifications.catalogue import BY_KEY, EVENT_TYPES, Severity, event_type_for, render_message

SEED_LINES = [
    ("app:create", "success", {"name": "example"}, "[rack] Created app example"),
    ("app:create", "success", {"app": "example"}, "[rack] Created app example"),
    ("app:delete", "success", {"name": "example"}, "[rack] Deleted app example"),
    ("build:create", "error", {"id": "BNJFGEQEXOK", "app": "example"},
     "[rack] Build BNJFGEQEXOK failed for app example"),
    ("release:create", "success", {"id": "RMDKLNZIACD", "app": "example"},
     "[rack] Created release RMDKLNZIACD for app example"),
    ("release:promote", "success", {"id": "RMDKLNZIACD", "app": "example"},
     "[rack] Finished rolling deploy of release RMDKLNZIACD for app example"),
    ("release:finish", "success", {"id": "RMDKLNZIACD", "app": "example"},
     "[rack] Finished rolling deploy of release RMDKLNZIACD for app example"),
    ("release:promote", "start", {"id": "RMDKLNZIACD", "app": "example"},
     "[rack] Promoted release RMDKLNZIACD for app example"),
    ("release:scale", "success", {"id": "RMDKLNZIACD", "app": "example"},
     "[rack] Scaled release RMDKLNZIACD for app example"),
    ("resource:create", "success", {"name": "pg1", "type": "postgres"},
     "[rack] Created postgres resource pg1"),
    ("service:create", "success", {"name": "pg1", "type": "postgres"},
     "[rack] Created postgres resource pg1"),
    ("resource:delete", "success", {"name": "pg1", "type": "postgres"},
     "[rack] Deleted postgres resource pg1"),
    ("rack:update", "success", {"version": "20160405223647"},
     "[rack] Updating rack to: version 20160405223647"),
    ("rack:update", "success", {"count": "3"}, "[rack] Updating rack to: count 3"),
    ("rack:update", "success", {"type": "db.t2.medium"},
     "[rack] Updating rack to: instance type db.t2.medium"),
]


@pytest.mark.parametrize(("action", "status", "data", "line"), SEED_LINES)
def test_each_seed_line_is_rendered_exactly(action, status, data, line):
    assert render_message("rack", action, status, {"rack": "rack", **data}) == line


def test_several_rack_changes_join_in_version_count_type_order():
    data = {"type": "t2.small", "count": "5", "version": "20171214220445"}
    assert render_message("convox", "rack:update", "success", data) == (
        "[convox] Updating rack to: version 20171214220445, count 5, instance type t2.small"
    )


def test_a_failed_promote_names_release_app_and_reason():
    line = render_message("rack", "release:promote", "error",
                          {"id": "R123456789", "app": "example-app",
                           "message": "unable to load release"})
    assert line == ("[rack] Promoting release R123456789 failed for app example-app: "
                    "unable to load release")
    assert event_type_for("release:promote", "error").severity == Severity.ERROR


def test_an_error_on_any_action_reads_as_a_failure_never_a_success():
    line = render_message("rack", "app:create", "error",
                          {"name": "web", "message": "name taken"})
    assert "failed" in line and "Created" not in line
    assert line.endswith(": name taken")
    assert event_type_for("app:create", "error").severity == Severity.ERROR


def test_an_unknown_action_gets_a_plain_generic_line():
    line = render_message("rack", "process:restart", "success",
                          {"rack": "rack", "app": "web", "process": "worker"})
    assert line == "[rack] process restart succeeded (app web, process worker)"
    assert event_type_for("process:restart", "success").key == "other:event"


def test_an_overlong_generic_line_is_cut():
    line = render_message("rack", "thing:happen", "success", {"blob": "x" * 5000})
    assert len(line) < 320 and line.endswith("…")


def test_internal_rack_events_and_completed_builds_notify_nobody_by_default():
    for action in ("rack:capacity", "rack:converge"):
        assert not event_type_for(action, "success").notifies_by_default
    assert not event_type_for("build:create", "success").notifies_by_default


def test_failures_and_finished_deploys_go_by_email_by_default():
    assert "email" in BY_KEY["build:failed"].default_channels
    assert "email" in BY_KEY["release:deployed"].default_channels
    assert "email" not in BY_KEY["app:create"].default_channels


def test_every_event_type_has_a_meaning_title_and_object():
    for kind in EVENT_TYPES:
        assert kind.meaning and kind.title and kind.object
    assert len({k.key for k in EVENT_TYPES}) == len(EVENT_TYPES)
