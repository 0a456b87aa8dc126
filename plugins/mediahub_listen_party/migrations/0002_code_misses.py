"""Join-code misses per client and minute (the guessing limit)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("listen_party", "0001_initial")]

    operations = [
        ops.CreateModel(
            name='PartyCodeMiss',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=80)),
                ('minute', fields.BigIntField(db_index=True)),
                ('misses', fields.IntField(default=0)),
            ],
            options={'table': 'party_code_misses', 'app': 'listen_party', 'unique_together': (('key', 'minute'),), 'pk_attr': 'id', 'table_description': 'Unknown join codes tried by one client (`ip:<net>` or `user:<id>`) in one minute.'},
            bases=['Model'],
        ),
    ]
