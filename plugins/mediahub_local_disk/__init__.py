"""The built-in local-disk storage backend: the embedded default, files under data_dir/media,
and the route its presigned uploads are posted to (so they work whichever plugins are on)."""

from mediahub import hookimpl


@hookimpl
def register_hookspecs():
    from mediahub_local_disk import hookspecs

    return hookspecs


@hookimpl(trylast=True)
def register_storage_backends():
    from mediahub_local_disk.backend import LocalDiskStorage

    return {"local-disk": LocalDiskStorage.from_settings}


@hookimpl
def register_routes(app):
    from mediahub_local_disk.routes import blueprint

    return [blueprint]
