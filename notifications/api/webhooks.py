"""The API of your webhooks: thin views over notifications.delivery.

Everything here is the requesting user's own: another user's endpoint or delivery is a
404, like something that does not exist.
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from console.bounds import ID_PATTERN
from console.outbound.safety import UnsafeURL, check_url
from console.rest.common import CursorPages, StrictJSONParser, errors
from notifications.api.serializers import EVENT_CHOICES
from notifications.delivery import endpoints as endpoint_actions
from notifications.delivery import outbox
from notifications.delivery.endpoints import ATTEMPTS_IN_ORDER, endpoint_limit_reached
from notifications.models import (
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
    WebhookFormat,
)


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES),
                                   min_length=1, max_length=len(EVENT_CHOICES))
    format = serializers.ChoiceField(choices=WebhookFormat.choices,
                                     default=WebhookFormat.STANDARD)
    secret_rotation_ends_at = serializers.DateTimeField(source="previous_secret_until",
                                                        read_only=True, allow_null=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "format", "enabled",
                  "disabled_reason", "failing_since", "secret_rotation_ends_at", "created_at"]
        read_only_fields = ["disabled_reason", "failing_since", "created_at"]

    def validate_url(self, url: str) -> str:
        try:
            check_url(url)
        except UnsafeURL as error:
            raise serializers.ValidationError(str(error)) from None
        return url


class CreatedEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True,
                                   help_text="The signing secret. Shown this once only.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    succeeded = serializers.BooleanField()
    error = serializers.CharField()
    request_body = serializers.CharField(
        help_text="The first 4 KiB of the body sent; empty for an email.")
    response_body = serializers.CharField(
        help_text="The first 4 KiB of the receiver's answer; empty for an email, or when "
                  "no answer came.")


class DeliverySerializer(serializers.ModelSerializer):
    message = serializers.SerializerMethodField()
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "webhook_id", "notification", "message", "status", "attempts",
                  "next_attempt_at", "last_status_code", "last_error", "delivered_at",
                  "created_at", "attempt_log"]
        extra_kwargs = {"attempts": {"help_text": (
            "Every attempt made, as attempt_log lists them; a redeliver or a recover does "
            "not reset it (the retry schedule starts over).")}}

    def get_message(self, delivery: Delivery) -> str:
        if delivery.notification is None:
            return "Test event"
        return delivery.notification.message


class DeliveryPages(CursorPages):
    ordering = "-id"
    page_size = 50


class RecoverSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Re-send every delivery that failed since.")

    def validate_since(self, since):
        if since > timezone.now():
            raise serializers.ValidationError("That time is in the future.")
        return since


def _secret_answer(name: str):
    return inline_serializer(name, {"secret": serializers.CharField(),
                                    "secret_rotation_ends_at": serializers.DateTimeField()})


_BUSY = {409: OpenApiResponse(
    response=inline_serializer("Busy", {"error": serializers.CharField()}),
    description="The delivery is being sent right now, or waits for a digest.")}
_PAGE = inline_serializer("DeliveryPage", {
    "next": serializers.URLField(allow_null=True),
    "previous": serializers.URLField(allow_null=True),
    "results": DeliverySerializer(many=True),
})


@extend_schema_view(
    list=extend_schema(responses={200: EndpointSerializer(many=True), **errors(401)}),
    retrieve=extend_schema(responses={200: EndpointSerializer, **errors(401, 404)}),
    partial_update=extend_schema(responses={200: EndpointSerializer, **errors(400, 401, 404)}),
    destroy=extend_schema(responses={204: None, **errors(401, 404)}),
)
class WebhookViewSet(mixins.ListModelMixin, mixins.CreateModelMixin,
                     mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your webhook endpoints, their deliveries and their secrets."""

    serializer_class = EndpointSerializer
    lookup_value_regex = ID_PATTERN
    parser_classes = [StrictJSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.filter(user=self.request.user).order_by("id")

    @extend_schema(responses={201: CreatedEndpointSerializer, **errors(400, 401)})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refused = endpoint_limit_reached(request.user)
        if refused:
            return Response({"error": refused}, status=status.HTTP_400_BAD_REQUEST)
        data = serializer.validated_data
        endpoint, secret = endpoint_actions.create_endpoint(
            request.user, url=data["url"], events=data["events"], format=data["format"],
            description=data.get("description", ""))
        if data.get("enabled") is False:
            endpoint_actions.pause_endpoint(endpoint)
        answer = CreatedEndpointSerializer(endpoint).data
        answer["secret"] = secret
        return Response(answer, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        enabled = changes.pop("enabled", None)
        endpoint = serializer.instance
        endpoint_actions.edit_endpoint(endpoint, **changes)
        if enabled is True and not endpoint.enabled:
            endpoint_actions.enable_endpoint(endpoint)
        elif enabled is False and endpoint.enabled:
            endpoint_actions.pause_endpoint(endpoint)

    def perform_destroy(self, endpoint):
        endpoint_actions.delete_endpoint(endpoint)

    @extend_schema(request=None,
                   responses={200: _secret_answer("RotatedSecret"), **errors(401, 404)})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret (shown once); the old one keeps signing too for 24 hours."""
        endpoint = self.get_object()
        secret = endpoint_actions.rotate_secret(endpoint)
        return Response({"secret": secret,
                         "secret_rotation_ends_at": endpoint.previous_secret_until})

    @extend_schema(request=None,
                   responses={202: DeliverySerializer, **errors(401, 404, 429)})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a made-up event to the endpoint; its delivery shows in the log. Limited
        per endpoint and per user (429 with Retry-After)."""
        try:
            delivery = outbox.send_test_event(self.get_object())
        except outbox.TooManyTestSends as error:
            return Response({"error": str(error)}, status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(error.retry_after)})
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RecoverSerializer,
                   responses={202: inline_serializer("Recovered",
                                                     {"requeued": serializers.IntegerField()}),
                              **errors(400, 401, 404)})
    @action(detail=True, methods=["post"])
    def recover(self, request, pk=None):
        """Send again every delivery to this endpoint that failed since a time."""
        endpoint = self.get_object()
        serializer = RecoverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = outbox.recover_failed(endpoint, serializer.validated_data["since"])
        return Response({"requeued": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: _PAGE, **errors(400, 401, 404)},
                   parameters=[OpenApiParameter("status", enum=DeliveryStatus.values),
                               OpenApiParameter("cursor", str)])
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first, each with its attempts."""
        endpoint = self.get_object()
        queryset = (Delivery.objects.filter(endpoint=endpoint)
                    .select_related("notification").prefetch_related(ATTEMPTS_IN_ORDER))
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in DeliveryStatus.values:
                return Response({"error": "status is one of " + ", ".join(DeliveryStatus.values)},
                                status=status.HTTP_400_BAD_REQUEST)
            queryset = queryset.filter(status=wanted)
        pages = DeliveryPages()
        page = pages.paginate_queryset(queryset, request, view=self)
        return pages.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None,
                   responses={202: DeliverySerializer, **errors(401, 404), **_BUSY})
    @action(detail=True, methods=["post"],
            url_path=rf"deliveries/(?P<delivery_id>{ID_PATTERN})/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send one delivery again, with the same webhook-id."""
        endpoint = self.get_object()
        delivery = get_object_or_404(Delivery, endpoint=endpoint, pk=delivery_id)
        try:
            outbox.redeliver(delivery)
        except outbox.NotNow as error:
            return Response({"error": str(error)}, status=status.HTTP_409_CONFLICT)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
