from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from agencies.crypto import DataKeyStore
        from network import crypto

        # The cipher (network, the bottom layer) reaches the DataKey records through this store.
        crypto.key_store_register(DataKeyStore())
