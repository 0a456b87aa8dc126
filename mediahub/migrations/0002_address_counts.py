"""Per-address counts of guests made and sign-ins failed (the abuse limits)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name='AddressCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=96)),
                ('minute', fields.BigIntField(db_index=True)),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'address_counts', 'app': 'core', 'unique_together': (('key', 'minute'),), 'pk_attr': 'id', 'table_description': 'Guests made or sign-ins failed from one network (`<what>:<address>`) in one minute.'},
            bases=['Model'],
        ),
    ]
