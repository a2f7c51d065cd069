"""Every network has its policy and a documentation standard from the start.

Both used to be created by the first page that read them (a GET that wrote). They are now created with the
network (`network.services.network_get_or_create`); this gives a network made before that change whatever
it still lacks: the policy at its defaults, and version 1 of the standard from the default terms. A network
that already has them is left as it is. No audit event: this is a deploy step, not anybody's action.
"""

from django.db import migrations


def create_missing(apps, schema_editor):
    from network.standards import DEFAULT_TERMS

    Network = apps.get_model("network", "Network")
    NetworkPolicy = apps.get_model("network", "NetworkPolicy")
    DocumentationStandard = apps.get_model("network", "DocumentationStandard")
    VocabularyTerm = apps.get_model("network", "VocabularyTerm")
    for network in Network.objects.order_by("pk"):
        NetworkPolicy.objects.get_or_create(network=network)
        if DocumentationStandard.objects.filter(network=network).exists():
            continue
        standard = DocumentationStandard.objects.create(network=network, version=1, published_by=None)
        VocabularyTerm.objects.bulk_create(
            VocabularyTerm(standard=standard, vocabulary=vocabulary, code=code, label=label, concept=code, position=p)
            for vocabulary, entries in DEFAULT_TERMS.items()
            for p, (code, label) in enumerate(entries)
        )


class Migration(migrations.Migration):
    dependencies = [("network", "0013_audit_chain_keyed")]

    operations = [migrations.RunPython(create_missing, migrations.RunPython.noop)]
