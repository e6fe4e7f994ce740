from django.apps import AppConfig


class RacksConfig(AppConfig):
    name = "racks"
