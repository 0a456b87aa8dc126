"""System endpoints: ping, getLicense, getOpenSubsonicExtensions, tokenInfo, getUser."""

from __future__ import annotations

from mediahub import User, first_result

from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.wire import SubsonicError

# What getOpenSubsonicExtensions advertises; docs/subsonic.md says what each means here.
EXTENSIONS = [
    {"name": "formPost", "versions": [1]},
    {"name": "apiKeyAuthentication", "versions": [1]},
    {"name": "transcodeOffset", "versions": [1]},
    {"name": "songLyrics", "versions": [1]},
]
# Ours, proposed for other servers (docs/subsonic.md "The listeningParty extension"):
# advertised while listen-party is enabled.
PARTY_EXTENSION = {"name": "listeningParty", "versions": [1]}


@endpoint("ping", auth="optional")
async def ping(call: Call) -> dict:
    # Without credentials a ping says the server is there; with them it also checks them,
    # which is how apps test a connection.
    return {}


@endpoint("getLicense")
async def get_license(call: Call) -> dict:
    return {"license": {"valid": True}}


@endpoint("getOpenSubsonicExtensions", auth="none")
async def get_extensions(call: Call) -> dict:
    party = [PARTY_EXTENSION] if await first_result("party_service") is not None else []
    return {"openSubsonicExtensions": EXTENSIONS + party}


@endpoint("tokenInfo")
async def token_info(call: Call) -> dict:
    return {"tokenInfo": {"username": call.user.username}}


def user_json(user: User) -> dict:
    admin = bool(user.is_admin)
    return {
        "username": user.username, "email": None, "scrobblingEnabled": True,
        "adminRole": admin, "settingsRole": True, "downloadRole": True, "uploadRole": False,
        "playlistRole": True, "coverArtRole": admin, "commentRole": False,
        "podcastRole": False, "streamRole": True, "jukeboxRole": False, "shareRole": False,
        "videoConversionRole": False, "folder": [],
    }


@endpoint("getUser")
async def get_user(call: Call) -> dict:
    username = call.params.str("username", call.user.username)
    if username.casefold() != call.user.username.casefold():
        if not call.user.is_admin:
            raise SubsonicError(SubsonicError.NOT_AUTHORIZED,
                                "only an admin may look at another account")
        other = await User.filter(username__iexact=username).first()
        if other is None:
            raise SubsonicError(SubsonicError.NOT_FOUND, "user not found")
        return {"user": await with_folders(call, user_json(other), other)}
    return {"user": await with_folders(call, user_json(call.user), call.user)}


async def with_folders(call: Call, body: dict, user: User) -> dict:
    try:
        catalog = await call.catalog()
    except SubsonicError:
        return body
    body["folder"] = [folder.id for folder in await catalog.folders(user)]
    return body
