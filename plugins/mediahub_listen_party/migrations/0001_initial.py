from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Party',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=12)),
                ('name', fields.CharField(default='', max_length=200)),
                ('owner', fields.ForeignKeyField('core.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='parties', on_delete=OnDelete.CASCADE)),
                ('state', fields.TextField(unique=False)),
                ('version', fields.BigIntField(default=0)),
                ('created_at', fields.FloatField()),
                ('last_active_at', fields.FloatField(db_index=True)),
                ('ended_at', fields.FloatField(null=True, db_index=True)),
                ('ended_reason', fields.CharField(null=True, max_length=32)),
            ],
            options={'table': 'party_parties', 'app': 'listen_party', 'pk_attr': 'id', 'table_description': 'A listening party: the join code, the host, and the authoritative playback state.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartyMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('party', fields.ForeignKeyField('listen_party.Party', source_field='party_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='party_memberships', on_delete=OnDelete.CASCADE)),
                ('display_name', fields.CharField(max_length=200)),
                ('connections', fields.IntField(default=0)),
                ('joined_at', fields.FloatField()),
                ('last_seen_at', fields.FloatField()),
            ],
            options={'table': 'party_members', 'app': 'listen_party', 'unique_together': (('party', 'user'),), 'pk_attr': 'id', 'table_description': 'A user who joined a party, with the number of sockets they have open to it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartyTrack',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('media', fields.ForeignKeyField('core.MediaObject', source_field='media_id', db_constraint=True, to_field='id', related_name='party_tracks', on_delete=OnDelete.CASCADE)),
                ('owner', fields.ForeignKeyField('core.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='party_tracks', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=255)),
                ('created_at', fields.FloatField(db_index=True)),
            ],
            options={'table': 'party_tracks', 'app': 'listen_party', 'pk_attr': 'id', 'table_description': 'A track uploaded for parties (seed POST /api/upload-track), stored through the ledger.'},
            bases=['Model'],
        ),
    ]
