"""The API of your notification preferences: a thin view over notifications.preferences."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.bounds import DB_INT_MAX
from console.rest.common import StrictJSONParser, errors
from notifications.api.serializers import EVENT_CHOICES
from notifications.catalogue import EVENT_TYPES, Channel
from notifications.models import DigestWindow, EmailDigest, Preference
from notifications.preferences import (
    default_channels,
    override_problem,
    replace_preferences,
    set_email_digest,
    usable_channels,
)
from racks.permissions import visible_racks

MAX_RULES = 500


class EventTypeSerializer(serializers.Serializer):
    key = serializers.CharField()
    object = serializers.CharField()
    title = serializers.CharField()
    meaning = serializers.CharField()
    default_channels = serializers.ListField(child=serializers.CharField())


class RuleSerializer(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=EVENT_CHOICES,
                                         help_text='A catalogue key, or "*" for every type.')
    rack = serializers.IntegerField(allow_null=True, required=False, default=None,
                                    min_value=1, max_value=DB_INT_MAX,
                                    help_text="Only on this rack (null: everywhere).")
    app = serializers.CharField(max_length=100, allow_blank=True, required=False, default="",
                                help_text="Only for this app of the rack.")
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices),
                                     allow_empty=True, max_length=len(Channel.values))

    def validate(self, attrs: dict) -> dict:
        if attrs["app"] and attrs["rack"] is None:
            raise serializers.ValidationError("A rule for an app also names its rack.")
        return attrs


class PreferencesSerializer(serializers.Serializer):
    preferences = RuleSerializer(many=True, max_length=MAX_RULES)
    email_digest_minutes = serializers.ChoiceField(choices=DigestWindow.choices,
                                                   required=False)
    event_types = EventTypeSerializer(many=True, read_only=True)

    def validate_preferences(self, rules: list[dict]) -> list[dict]:
        user = self.context["request"].user
        wanted_racks = {r["rack"] for r in rules if r["rack"] is not None}
        racks = {rack.pk: rack for rack in visible_racks(user).filter(pk__in=wanted_racks)}
        if Channel.WEBHOOK.value not in usable_channels(user) and any(
                Channel.WEBHOOK.value in rule["channels"] for rule in rules):
            raise serializers.ValidationError(
                "You have no enabled webhook to send to: add one (POST /api/v1/webhooks/) "
                "before choosing the webhook channel.")
        seen = set()
        for rule in rules:
            if rule["rack"] is not None:
                if rule["rack"] not in racks:
                    raise serializers.ValidationError(
                        f"There is no rack {rule['rack']} in your organizations.")
                rule["rack"] = racks[rule["rack"]]
                problem = override_problem(rule["rack"], rule["app"])
                if problem:
                    raise serializers.ValidationError(problem)
            scope = (rule["event_type"], rule["rack"] and rule["rack"].pk, rule["app"])
            if scope in seen:
                raise serializers.ValidationError(
                    f"Two rules for {rule['event_type']} in the same place; keep one.")
            seen.add(scope)
        return rules


def preferences_payload(user) -> dict:
    rules = Preference.objects.filter(user=user).order_by("rack_id", "app", "event_type")
    digest = EmailDigest.objects.filter(user=user).first()
    return {
        "preferences": [{"event_type": p.event_type, "rack": p.rack_id, "app": p.app,
                         "channels": p.channels} for p in rules],
        "email_digest_minutes": digest.window_minutes if digest else DigestWindow.IMMEDIATE,
        "event_types": [{"key": t.key, "object": t.object, "title": t.title,
                         "meaning": t.meaning, "default_channels": sorted(default_channels(t))}
                        for t in EVENT_TYPES],
    }


class PreferencesView(APIView):
    """Your notification preferences: per event type, the channels you want.

    Each rule applies everywhere, on one rack, or to one app of a rack; the most specific
    rule wins (app over rack over everywhere, then a named event type over "*"). Without
    a rule an event type's `default_channels` apply. PUT replaces all your rules.
    """

    parser_classes = [StrictJSONParser]

    @extend_schema(responses={200: PreferencesSerializer, **errors(401)})
    def get(self, request):
        return Response(preferences_payload(request.user))

    @extend_schema(request=PreferencesSerializer,
                   responses={200: PreferencesSerializer, **errors(400, 401)})
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            replace_preferences(request.user, serializer.validated_data["preferences"])
            if "email_digest_minutes" in serializer.validated_data:
                set_email_digest(request.user, serializer.validated_data["email_digest_minutes"])
        return Response(preferences_payload(request.user))
