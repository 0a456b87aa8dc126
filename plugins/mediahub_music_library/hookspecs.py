"""The hooks music-library owns: the collection, for other plugins.

Implemented by music-library alone; other plugins call them without importing this
package: ``catalog = await first_result("music_catalog")``.
"""

from __future__ import annotations

from typing import Any

from mediahub import hookspec


@hookspec(firstresult=True)
def music_catalog() -> Any:
    """The collection: an object with the async methods of docs/music-library.md.

    ``firstresult``. None when music-library is disabled. Every method takes the viewing
    ``user`` (per-folder access and upload visibility apply) and returns dataclasses
    (``Track``, ``Album``, ``Artist``, ``Genre``, ``Folder``, ``SearchResult``) whose
    attributes are the snake_case names of the JSON API's keys; a missing or invisible id
    is None (single) or left out (lists).
    """

