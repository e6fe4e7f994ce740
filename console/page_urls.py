"""The dashboard's pages and the buttons on them."""

from django.urls import path

from console import converters  # noqa: F401 - registers <id:...>
from console.views import accounts, actions, feed_page, members, pages, reading, settings

APP = "racks/<id:rack_id>/apps/<slug:name>/"

urlpatterns = [
    path("", feed_page.feed, name="feed"),
    path("notifications/<id:notification_id>/open/", reading.open_notification,
         name="open-notification"),
    path("accounts/register/", accounts.register, name="register"),
    path("settings/tokens/", accounts.api_tokens, name="settings-tokens"),
    path("organizations/", pages.organizations, name="organizations"),
    path("organizations/<slug:slug>/", pages.organization, name="organization"),
    path("organizations/<slug:slug>/invite/", members.invite, name="invite"),
    path("organizations/<slug:slug>/connect/", actions.connect, name="connect-rack"),
    path("organizations/<slug:slug>/invitations/<id:invitation_id>/revoke/",
         members.revoke_invitation, name="revoke-invitation"),
    path("organizations/<slug:slug>/members/<str:username>/role/", members.change_role,
         name="change-role"),
    path("organizations/<slug:slug>/members/<str:username>/remove/", members.remove_member,
         name="remove-member"),
    path("invitations/", members.received, name="invitations"),
    path("invitations/<id:invitation_id>/accept/", members.answer, {"accepting": True},
         name="accept-invitation"),
    path("invitations/<id:invitation_id>/decline/", members.answer, {"accepting": False},
         name="decline-invitation"),
    path("invitations/claim/<str:token>/", members.claim, name="claim-invitation"),
    path("racks/", pages.racks, name="racks"),
    path("racks/<id:rack_id>/", pages.rack, name="rack"),
    path("racks/<id:rack_id>/update/", actions.update_rack, name="update-rack"),
    path("racks/<id:rack_id>/disconnect/", actions.disconnect, name="disconnect-rack"),
    path("racks/<id:rack_id>/signing-key/", actions.set_signing_key, name="set-signing-key"),
    path("racks/<id:rack_id>/apps/", actions.create_app, name="create-app"),
    path("racks/<id:rack_id>/resources/", actions.create_resource, name="create-resource"),
    path("racks/<id:rack_id>/resources/<slug:name>/delete/", actions.delete_resource,
         name="delete-resource"),
    path(APP, pages.app, name="app"),
    path(APP + "delete/", actions.delete_app, name="delete-app"),
    path(APP + "builds/", actions.start_build, name="start-build"),
    # Under /uploads/: the source's own body cap (console.body_limit).
    path("uploads/" + APP + "builds/", actions.start_source_build, name="start-source-build"),
    path(APP + "builds/<str:build_id>/", pages.build, name="build"),
    path(APP + "env/", actions.set_env, name="set-env"),
    path(APP + "scale/", actions.scale, name="scale"),
    path(APP + "releases/<str:release_id>/promote/", actions.promote, name="promote"),
    path("settings/notifications/", settings.notification_settings,
         name="settings-notifications"),
    path("settings/webhooks/", settings.webhook_list, name="settings-webhooks"),
    path("settings/webhooks/<id:endpoint_id>/", settings.webhook_detail,
         name="settings-webhook"),
    path("settings/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver/",
         settings.redeliver, name="settings-webhook-redeliver"),
]
