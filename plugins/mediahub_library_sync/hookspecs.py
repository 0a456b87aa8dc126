"""The hook library-sync owns: each user's library, for other plugins.

Implemented by library-sync alone; other plugins call it without importing this package:
``service = await first_result("library_service")``.
"""

from __future__ import annotations

from typing import Any

from mediahub import hookspec


@hookspec(firstresult=True)
def library_service() -> Any:
    """The users' libraries: an object with the async methods of docs/library-sync.md.

    ``firstresult``. None when library-sync is disabled. Every method takes the ``user``
    (a mediahub ``User``) whose library it reads or changes; items are seed-002 dicts
    (``videoId`` plus optional title, artist, artwork, duration). A change goes through
    the same merge as a device's, so it reaches the user's other devices the same way.
    """
