"""EncryptedTextField: the one field type for confidential text (notes, names). See network/crypto.py.

The model must have a `uuid` field: it binds each ciphertext to its row before the row has a
primary key. Values decrypt when the attribute is read, so listing rows never decrypts what a
page does not show, and a failure raises DecryptionError at the point of use. A loaded value
remembers the schema it was read from (the connection that ran the query), so reading it binds it
to that schema without asking the connection again (docs/performance.md, "Encryption cost").
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import connection, models

from network import crypto
from network.tenancy import require_agency_schema


@functools.cache
def _tenant_app_labels() -> frozenset[str]:
    return frozenset(app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS)


class Ciphertext(str):
    """A value loaded from the database and not yet decrypted. `schema` is the schema it was read
    from (a loaded value's class says it, below); None for a value made in code, which binds to the
    connection's schema when it is read."""

    __slots__ = ()
    schema: str | None = None

    def __repr__(self) -> str:
        return "<Ciphertext>"

    def __reduce__(self):  # pickle and deepcopy: the loaded-from schema comes along
        return (ciphertext_read_from, (str(self), self.schema))


# One Ciphertext subclass per schema values are read from (bounded by the schemas there are), so a
# loaded value carries its schema as a class attribute: a str subclass with an attribute of its own
# would need a dict per value, which cost more than the rest of loading it (docs/performance.md).
_read_from: dict[str, type[Ciphertext]] = {}


def _ciphertext_class(schema: str) -> type[Ciphertext]:
    cls = _read_from.get(schema)
    if cls is None:
        cls = _read_from[schema] = type("Ciphertext", (Ciphertext,), {"__slots__": (), "schema": schema})
    return cls


def ciphertext_read_from(value: str, schema: str | None) -> Ciphertext:
    """`value` as a Ciphertext read from `schema` (None: made in code)."""
    return Ciphertext(value) if schema is None else _ciphertext_class(schema)(value)


class _EncryptedAttribute:
    def __init__(self, field: EncryptedTextField) -> None:
        self.field = field
        self.attname = field.attname
        self.stored = field.stored_attname

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        values = instance.__dict__
        value = values.get(self.attname)
        if isinstance(value, Ciphertext):
            plaintext = crypto.decrypt(value, aad=self.field.associated_data(instance, value.schema))
            values[self.attname] = plaintext
            values[self.stored] = value
            return plaintext
        return value

    def __set__(self, instance, value) -> None:
        values = instance.__dict__
        values[self.attname] = value
        if self.stored in values:
            del values[self.stored]


class EncryptedTextField(models.TextField):
    """Text encrypted with AES-256-GCM: rows with an `encryption_subject()` (a uuid) under a data key of their own,
    which shredding destroys with nothing else; agency-schema rows under the data key of the agency the connection
    is in (checked, network/tenancy.py), public rows under their `encryption_owner()` or the network's key."""

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.stored_attname = f"_{self.attname}_stored"  # the ciphertext a decrypted value was read from
        self._aad_prefixes: dict[str, bytes] = {}
        setattr(cls, self.attname, _EncryptedAttribute(self))

    def associated_data(self, instance, schema: str | None = None) -> bytes:
        """What a ciphertext is bound to: schema, table, column and row. `schema` is where the row was
        read from (Ciphertext.schema); by default the schema the connection is in now."""
        row = getattr(instance, "uuid", None)
        if row is None:
            raise TypeError(f"{type(instance).__name__} needs a uuid field to hold encrypted fields")
        prefix = self._aad_prefixes.get(schema)  # once per shown value: the schema|table|column| part is kept
        if prefix is None:
            prefix = self._aad_prefix(schema)
        return prefix + str(row).encode()

    def _aad_prefix(self, schema: str | None) -> bytes:
        table = self.model._meta.db_table  # the table the column is in
        # Agency-schema tables bind to the schema they live in; public tables to "public".
        if self.model._meta.app_label not in _tenant_app_labels():
            bound = "public"
        elif schema is None:
            # The connection's schema now (through django.db's proxy: about 4 us, so not once per
            # loaded value), never kept: the connection moves between schemas.
            return f"{connection.schema_name}|{table}|{self.column}|".encode()
        else:
            bound = schema
        prefix = self._aad_prefixes[schema] = f"{bound}|{table}|{self.column}|".encode()
        return prefix  # one per schema values are read from: bounded by the schemas there are

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        # `connection` is the database wrapper that ran the query: its schema is where the row lives.
        return (_read_from.get(connection.schema_name) or _ciphertext_class(connection.schema_name))(value)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or value == "":
            return None
        if isinstance(value, Ciphertext):
            return value  # loaded and never read: stored as it was
        stored = model_instance.__dict__.get(self.stored_attname)
        if stored is not None:
            return stored  # read but unchanged: no need to encrypt again
        aad = self.associated_data(model_instance)
        if hasattr(model_instance, "encryption_subject"):  # a row with a key of its own (docs/members.md)
            return Ciphertext(crypto.encrypt(str(value), subject=model_instance.encryption_subject(), aad=aad))
        if hasattr(model_instance, "encryption_owner"):  # e.g. an activation's own key
            return Ciphertext(crypto.encrypt(str(value), activation=model_instance.encryption_owner(), aad=aad))
        if model_instance._meta.app_label not in _tenant_app_labels():
            return Ciphertext(crypto.encrypt(str(value), agency=None, aad=aad))  # the network's key
        # An agency row: encrypted under the key of the agency the connection is in, and bound to its
        # schema. The two must be the same agency, or the row would carry another agency's key.
        agency = getattr(connection, "tenant", None)
        require_agency_schema(agency)
        return Ciphertext(crypto.encrypt(str(value), agency=agency, aad=aad))

    def get_prep_value(self, value):
        if value is None or isinstance(value, Ciphertext):
            return value
        # Plain text may only arrive through pre_save; queryset.update(notes="...") would store it in clear.
        raise TypeError("Encrypted fields are written through model.save(), never queryset.update() with text.")
