"""The cyclic garbage collector paused while a library sync turns a large body into objects and merges it.

A full sync parses some 100,000 dicts and lists, merges them and drops nearly all of them
again within one request. With the collector running, every 700 new container objects
trigger a collection, and as the parsed body stays alive for the whole request, it is
promoted and then walked again by the collections of the older generations, which also
walk the libraries kept in the parsed cache. Measured with the benchmark, those
collections cost as much as the sync itself. The objects are plain JSON data without
reference cycles, so reference counting frees them all the moment the request is done;
paused, the collector has nothing left to do for them.

Process-wide (the collector is), so pauses of overlapping requests are counted and the
collector resumes when the last one ends; other requests meanwhile only have their cyclic
garbage collected a little later.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

_pauses = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _pauses, _resume
    if _pauses == 0:
        _resume = gc.isenabled()  # someone else's gc.disable() is left alone
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _resume:
            gc.enable()
