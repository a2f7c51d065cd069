from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "encounters"
    verbose_name = "Encounters"

    def ready(self) -> None:
        from agencies.export import export_section_register
        from encounters.export import SECTIONS

        for section in SECTIONS:  # the encounter log's part of the agency's readable export
            export_section_register(section)
        from encounters import receivers  # noqa: F401  (connects the receivers of lower layers' signals)
