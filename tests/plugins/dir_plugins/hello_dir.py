"""A plugin loaded from a `[plugins] dirs` folder: one page route."""

from quart import Blueprint

from mediahub import hookimpl

bp = Blueprint("hello_dir", __name__)


@bp.get("/hello-dir")
async def hello():
    return {"hello": "from a plugin dir"}


@hookimpl
def register_routes(app):
    return [bp]
