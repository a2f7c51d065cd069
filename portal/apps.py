from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The composed pages at the top of the house: the landing page, the home router and each role's home
    page, which gather what the layers below offer (docs/architecture.md)."""

    name = "portal"
