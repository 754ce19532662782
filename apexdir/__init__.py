"""apexdir — the directory manager of APEX Partenaires (DGFiP) around OpenLDAP."""

__version__ = "0.1.0"
