"""A plugin with a misspelled hook name: startup must stop and name it."""

from mediahub import hookimpl


@hookimpl
def cleanpu(now):
    return {}
