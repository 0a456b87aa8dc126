from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='TempSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session_id', fields.CharField(unique=True, max_length=128)),
                ('host_id', fields.UUIDField()),
                ('last_activity', fields.FloatField(db_index=True)),
            ],
            options={'table': 'temp_sessions', 'app': 'cloudinary_temp', 'pk_attr': 'id', 'table_description': 'The host of a session id for temporary uploads: its first uploader, or who the party plugin names.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TempUpload',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=64)),
                ('media_id', fields.UUIDField(unique=True)),
                ('session_id', fields.CharField(db_index=True, max_length=128)),
                ('uploader_id', fields.UUIDField(null=True)),
                ('song_title', fields.CharField(default='', max_length=300)),
                ('sha256', fields.CharField(max_length=64)),
                ('expires_at', fields.FloatField(db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'temp_uploads', 'app': 'cloudinary_temp', 'unique_together': (('session_id', 'sha256'),), 'pk_attr': 'id', 'table_description': 'One temporary upload: which session, who uploaded it, and its media ledger row.'},
            bases=['Model'],
        ),
    ]
