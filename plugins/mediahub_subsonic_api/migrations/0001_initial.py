from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='AppPassword',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='subsonic_app_passwords', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('sealed', fields.CharField(max_length=255)),
                ('lookup_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_client', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'subsonic_app_passwords', 'app': 'subsonic_api', 'pk_attr': 'id', 'table_description': 'A per-device password for Subsonic apps, sealed with the server secret.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NowPlaying',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='subsonic_now_playing', on_delete=OnDelete.CASCADE)),
                ('client', fields.CharField(max_length=64)),
                ('track_id', fields.CharField(max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'subsonic_now_playing', 'app': 'subsonic_api', 'unique_together': (('user', 'client'),), 'pk_attr': 'id', 'table_description': 'The track an app of a user reported playing (scrobble with submission=false).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rating',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='subsonic_ratings', on_delete=OnDelete.CASCADE)),
                ('item_id', fields.CharField(max_length=64)),
                ('rating', fields.IntField()),
            ],
            options={'table': 'subsonic_ratings', 'app': 'subsonic_api', 'unique_together': (('user', 'item_id'),), 'pk_attr': 'id', 'table_description': 'A user rating (1 to 5) of a collection item (library-sync has no ratings).'},
            bases=['Model'],
        ),
    ]
