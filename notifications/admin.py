from django.contrib import admin

from notifications.models import FeedEntry, Notification


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
