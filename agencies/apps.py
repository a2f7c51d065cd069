from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from agencies.crypto import DataKeyStore
        from agencies.export import CERTIFICATIONS, MEMBERS, export_section_register
        from network import crypto

        # The cipher (network, the bottom layer) reaches the DataKey records through this store.
        crypto.key_store_register(DataKeyStore())
        # This app's part of the readable export; apps above add theirs in their own ready().
        export_section_register(MEMBERS)
        export_section_register(CERTIFICATIONS)
        # What a request has learnt of its user's memberships (network/request_cache.py) goes stale when a
        # membership or an agency changes within that request.
        from agencies.models import Agency, Membership
        from network.request_cache import request_cache_clear

        for model in (Membership, Agency):
            for name, signal in (("saved", post_save), ("deleted", post_delete)):
                signal.connect(request_cache_clear, sender=model, dispatch_uid=f"request_cache_{model.__name__}_{name}")
