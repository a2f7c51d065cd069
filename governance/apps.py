from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Network governance: agreements and activation protocols"
    default_auto_field = "django.db.models.BigAutoField"
