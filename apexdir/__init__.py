"""apexdir — the directory manager of APEX Partenaires (DGFiP) around OpenLDAP."""

import os

__version__ = "0.1.0"

# pydantic looks for plugins in the entry points of every installed distribution when it
# builds its first model: ≈ 5 ms of each CLI command, and apexdir uses no plugin. Set
# before apexdir.config imports pydantic, as pydantic's documentation asks; an operator's
# own value (even empty) is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
