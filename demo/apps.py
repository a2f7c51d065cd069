from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo network seeder (`manage.py seed_demo`): the top of the house, free to use every layer."""

    name = "demo"
