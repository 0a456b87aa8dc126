from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='DeviceSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library_device_sessions', on_delete=OnDelete.CASCADE)),
                ('session_id', fields.CharField(max_length=128)),
                ('last_ping_at', fields.FloatField()),
                ('expires_at', fields.FloatField(db_index=True)),
            ],
            options={'table': 'library_device_sessions', 'app': 'library_sync', 'unique_together': (('user', 'session_id'),), 'pk_attr': 'id', 'table_description': 'A device or tab that pinged recently (seed session_pings).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LibraryRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library', on_delete=OnDelete.CASCADE)),
                ('version', fields.BigIntField(default=0)),
                ('horizon', fields.BigIntField(default=0)),
                ('updated_at', fields.CharField(null=True, max_length=40)),
            ],
            options={'table': 'library_records', 'app': 'library_sync', 'pk_attr': 'id', 'table_description': 'The version counter and tombstone horizon of one user library.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LibrarySection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library_sections', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=32)),
                ('items', fields.TextField(unique=False)),
                ('meta', fields.TextField(unique=False)),
                ('oldest_tombstone', fields.FloatField(null=True, db_index=True)),
            ],
            options={'table': 'library_sections', 'app': 'library_sync', 'unique_together': (('user', 'name'),), 'pk_attr': 'id', 'table_description': 'One section of a library: the items clients get and the versions and tombstones behind them.'},
            bases=['Model'],
        ),
    ]
