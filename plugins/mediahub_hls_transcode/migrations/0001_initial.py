from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Track',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('core.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='hls_tracks', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(default='', max_length=200)),
                ('artist_name', fields.CharField(default='', max_length=200)),
                ('album', fields.CharField(null=True, max_length=200)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('error', fields.TextField(null=True, unique=False)),
                ('backend', fields.CharField(max_length=64)),
                ('prefix', fields.CharField(max_length=255)),
                ('media_id', fields.UUIDField(null=True)),
                ('job_id', fields.UUIDField(null=True)),
                ('audio_key', fields.CharField(max_length=255)),
                ('declared_size', fields.BigIntField()),
                ('artwork_key', fields.CharField(null=True, max_length=255)),
                ('has_artwork', fields.BooleanField(default=False)),
                ('duration_seconds', fields.FloatField(null=True)),
                ('loudness_lufs', fields.FloatField(null=True)),
                ('gain_db', fields.FloatField(null=True)),
                ('renditions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('master_ready', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'hls_tracks', 'app': 'hls_transcode', 'pk_attr': 'id', 'table_description': 'An uploaded track, its processing state and where its HLS renditions live.'},
            bases=['Model'],
        ),
    ]
