from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from agencies.crypto import DataKeyStore
        from agencies.export import CERTIFICATIONS, MEMBERS, export_section_register
        from network import crypto

        # The cipher (network, the bottom layer) reaches the DataKey records through this store.
        crypto.key_store_register(DataKeyStore())
        # This app's part of the readable export; apps above add theirs in their own ready().
        export_section_register(MEMBERS)
        export_section_register(CERTIFICATIONS)
