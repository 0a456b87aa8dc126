"""The built-in local-disk storage backend: the embedded default, files under data_dir/media."""

from mediahub import hookimpl


@hookimpl(trylast=True)
def register_storage_backends():
    from mediahub_local_disk.backend import LocalDiskStorage

    return {"local-disk": LocalDiskStorage.from_settings}
