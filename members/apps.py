from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members' requests"

    def ready(self) -> None:
        from members import receivers  # noqa: F401  (connects the receivers of lower layers' signals)
