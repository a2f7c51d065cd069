from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"
    verbose_name = "Network"

    def ready(self) -> None:
        from network import sessions, signals  # noqa: F401  (session limits, sign-in auditing)
