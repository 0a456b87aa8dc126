"""The two pluggy markers: `hookspec` declares a hook, `hookimpl` implements one (project "mediahub")."""

import pluggy

hookspec = pluggy.HookspecMarker("mediahub")
hookimpl = pluggy.HookimplMarker("mediahub")
