"""library_devices: the version last answered to each device that never sends `since`."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('library_sync', '0002_item_rows')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LibraryDevice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library_devices', on_delete=OnDelete.CASCADE)),
                ('device', fields.CharField(max_length=160)),
                ('seen', fields.BigIntField()),
                ('seen_at', fields.FloatField(db_index=True)),
            ],
            options={'table': 'library_devices', 'app': 'library_sync', 'unique_together': (('user', 'device'),), 'pk_attr': 'id', 'table_description': 'What the server last told one device that never says `since`: the version of its answer.'},
            bases=['Model'],
        ),
    ]
