from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Thread',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('owner', fields.ForeignKeyField('core.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='render_threads', on_delete=OnDelete.CASCADE)),
                ('is_private', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'render_threads', 'app': 's3_renders', 'pk_attr': 'id', 'table_description': 'A conversation, private ones readable by their members only.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('s3_renders.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('core.User', source_field='author_id', db_constraint=True, to_field='id', related_name='render_messages', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(default='', unique=False)),
                ('snapshot', fields.TextField(default='{}', unique=False)),
                ('snapshot_metadata', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'render_messages', 'app': 's3_renders', 'pk_attr': 'id', 'table_description': 'A message in a thread, with the sequencer snapshot of the seed as JSON text.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Render',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('core.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='renders', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('s3_renders.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='renders', on_delete=OnDelete.SET_NULL)),
                ('media_id', fields.UUIDField(db_index=True)),
                ('format', fields.CharField(max_length=16)),
                ('bitrate', fields.IntField(null=True)),
                ('duration', fields.FloatField()),
                ('size_bytes', fields.BigIntField()),
                ('peaks', fields.TextField(default='[]', unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'render_renders', 'app': 's3_renders', 'pk_attr': 'id', 'table_description': 'An uploaded audio render, whose bytes are the ledger object media_id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ThreadMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('s3_renders.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='render_memberships', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'render_thread_members', 'app': 's3_renders', 'unique_together': (('thread', 'user'),), 'pk_attr': 'id', 'table_description': 'One user taking part in a thread (the owner included).'},
            bases=['Model'],
        ),
    ]
