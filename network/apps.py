from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"
    verbose_name = "Network"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from network import sessions, signals  # noqa: F401  (session limits, sign-in auditing)
        from network.models import DocumentationStandard, NetworkPolicy, NetworkRole
        from network.request_cache import request_cache_clear

        # What a request has read once (network/request_cache.py) goes stale when these change within it.
        for model in (NetworkRole, NetworkPolicy, DocumentationStandard):
            for name, signal in (("saved", post_save), ("deleted", post_delete)):
                signal.connect(request_cache_clear, sender=model, dispatch_uid=f"request_cache_{model.__name__}_{name}")
