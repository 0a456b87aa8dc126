"""The guestbook page and its JSON API."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Blueprint, render_template
from quart_schema import validate_request, validate_response

from mediahub import NO_NUL, current_host, html_page
from mediahub_example_greeter.models import Greeting

blueprint = Blueprint("greeter", __name__, template_folder="templates")


class NewGreeting(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=NO_NUL)  # PostgreSQL refuses NUL


class GreetingOut(BaseModel):
    id: int
    name: str
    message: str


class GreetingList(BaseModel):
    greetings: list[GreetingOut]


def describe(greeting: Greeting) -> GreetingOut:
    hello = current_host().plugin_config("greeter").greeting
    return GreetingOut(id=greeting.id, name=greeting.name, message=f"{hello}, {greeting.name}!")


@blueprint.post("/api/greeter/greetings")
@validate_request(NewGreeting)
@validate_response(GreetingOut, 201)
async def create_greeting(data: NewGreeting):
    return describe(await Greeting.create(name=data.name)), 201


@blueprint.get("/api/greeter/greetings")
@validate_response(GreetingList)
async def list_greetings():
    greetings = await Greeting.all().order_by("-id").limit(50)
    return GreetingList(greetings=[describe(g) for g in greetings])


@blueprint.get("/greeter")
@html_page
async def guestbook_page():
    greetings = await Greeting.all().order_by("-id").limit(50)
    return await render_template("greeter/guestbook.html",
                                 greetings=[describe(g) for g in greetings])
