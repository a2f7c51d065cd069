from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"
    verbose_name = "Activations"

    def ready(self) -> None:
        from activations import receivers  # noqa: F401  (connects the receivers of lower layers' signals)
