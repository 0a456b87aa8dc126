"""An example mediahub plugin: a guestbook page, an API route, a config section, a cleanup hook."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mediahub import hookimpl


class GreeterSettings(BaseModel):
    """`[plugins.greeter]` in the config file."""

    model_config = {"extra": "forbid"}
    keep_seconds: float = Field(7 * 24 * 3600, gt=0)
    greeting: str = "Hello"


@hookimpl
def register_config_sections():
    return {"greeter": GreeterSettings}


@hookimpl
def register_models():
    return {"greeter": {"models": "mediahub_example_greeter.models",
                        "migrations": "mediahub_example_greeter.migrations"}}


@hookimpl
def register_routes(app):
    # Imported here, not at module import: a plugin stays cheap to list and load.
    from mediahub_example_greeter.routes import blueprint

    return [blueprint]


@hookimpl
def register_nav_items(request):
    return [{"label": "Guestbook", "href": "/greeter"}]


@hookimpl
async def cleanup(now):
    from mediahub_example_greeter.models import Greeting, expired_before

    removed = await Greeting.filter(created_at__lt=expired_before(now)).delete()
    return {"greetings": removed}
