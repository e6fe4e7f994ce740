"""The REST API of the feed, preferences and webhooks, and the serializers they share."""
