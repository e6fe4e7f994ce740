from django.contrib import admin

from notifications.models import Delivery, FeedEntry, Notification, WebhookEndpoint


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("message", "rack", "action", "status", "source", "created_at")
    list_filter = ("severity", "source", "action")
    search_fields = ("message",)
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(FeedEntry)
class FeedEntryAdmin(admin.ModelAdmin):
    list_display = ("user", "notification", "read")
    raw_id_fields = ("user", "notification")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "user", "format", "enabled", "failing_since")
    list_filter = ("format", "enabled")
    raw_id_fields = ("user",)
    # The signing secrets stay out of the admin, encrypted or not.
    exclude = ("secret_encrypted", "previous_secret_encrypted")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "channel", "user", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in Delivery._meta.fields]
