"""Which party a person shares a song with on /temp-upload: their own live parties, or one
they name by its code or link (what people know), read through listen-party's
`party_service` hook; nobody is asked for a session id."""

from __future__ import annotations

import re

from mediahub import Forbidden, NotFound, TooManyRequests, User, first_result

CODE = re.compile(r"^[A-Za-z0-9]{4,16}$")
MAX_ASKED = 500  # a pasted link, not a document


def party_code(asked: str) -> str | None:
    """The code in what was typed: `K7MP2Q`, or a party link `https://host/party/K7MP2Q?x`."""
    text = asked.strip()[:MAX_ASKED]
    if "/" in text:
        text = text.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    text = text.strip().upper()
    return text if CODE.match(text) else None


async def choices(user: User, asked: str, ip: str | None) -> dict:
    """What the page offers: `parties` (each `sessionId`, `name`, `code`, `role`, `url`), the
    `chosen` one's sessionId, a `problem` to show, and whether parties exist on this server."""
    service = await first_result("party_service")
    if service is None:
        return {"available": False, "parties": [], "chosen": None, "problem": None}
    parties = await service.parties(user)
    chosen, problem = None, None
    if asked.strip():
        code = party_code(asked)
        if code is None:
            problem = ("That is not a party code or link. A code is the 6 letters and digits the "
                       "host shares (like K7MP2Q); a link ends with /party/ and the code.")
        else:
            try:
                party = await service.state(user, code, ip=ip)
            except NotFound:
                problem = f"No live party has the code {code}: check it with the host."
            except Forbidden:
                problem = (f"You have not joined the party {code} yet: open the link its host "
                           "shared, join, then come back here.")
            except TooManyRequests:
                problem = "Too many codes tried: wait a minute, then try again."
            else:
                chosen = party["sessionId"]
                if all(p["sessionId"] != chosen for p in parties):
                    parties.insert(0, party)
    if chosen is None and parties:
        chosen = parties[0]["sessionId"]
    return {"available": True, "parties": parties, "chosen": chosen, "problem": problem}
