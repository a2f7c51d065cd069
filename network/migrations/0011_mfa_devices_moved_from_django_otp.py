"""Move enrolled authenticators and recovery codes out of django-otp's plain-text tables: each TOTP
secret is encrypted under the network's data key, each unused recovery code is kept only as a keyed
hash. Enrolled people keep signing in with the same app and the same codes. django-otp's rows are then
deleted, unconfirmed (pending) ones included. Sessions that had passed MFA with an old device are asked
for a code once more. Not reversible: hashed codes cannot be turned back into codes."""

from django.db import migrations


def move_devices(apps, schema_editor):
    from network import crypto
    from network.fields import Ciphertext
    from network.models import recovery_code_digest

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    StaticDevice = apps.get_model("otp_static", "StaticDevice")
    AuthenticatorApp = apps.get_model("network", "AuthenticatorApp")
    RecoveryCodeSet = apps.get_model("network", "RecoveryCodeSet")
    RecoveryCode = apps.get_model("network", "RecoveryCode")
    secret_field = AuthenticatorApp._meta.get_field("secret")

    for old in TOTPDevice.objects.filter(confirmed=True).order_by("pk"):
        if AuthenticatorApp.objects.filter(user_id=old.user_id).exists():
            continue  # one app per account; the oldest confirmed one is the one the account uses
        new = AuthenticatorApp(
            user_id=old.user_id,
            name=old.name,
            confirmed=True,
            drift=old.drift,
            last_t=old.last_t,
            throttling_failure_timestamp=old.throttling_failure_timestamp,
            throttling_failure_count=old.throttling_failure_count,
            last_used_at=old.last_used_at,
        )
        # Encrypted exactly as the field encrypts (network key, bound to this table, column and row).
        new.secret = Ciphertext(crypto.encrypt(old.key, aad=secret_field.associated_data(new)))
        new.save()
    TOTPDevice.objects.all().delete()

    for old in StaticDevice.objects.filter(confirmed=True).order_by("pk"):
        if RecoveryCodeSet.objects.filter(user_id=old.user_id).exists():
            continue
        new = RecoveryCodeSet.objects.create(
            user_id=old.user_id,
            name=old.name,
            confirmed=True,
            throttling_failure_timestamp=old.throttling_failure_timestamp,
            throttling_failure_count=old.throttling_failure_count,
            last_used_at=old.last_used_at,
        )
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=new, digest=recovery_code_digest(device_uuid=new.uuid, code=token.token))
            for token in old.token_set.all()
        )
    StaticDevice.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0010_mfa_devices_encrypted_and_hashed"),
        ("agencies", "0004_datakey_activation"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(move_devices, migrations.RunPython.noop)]
