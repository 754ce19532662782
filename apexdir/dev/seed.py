"""The demo data of the development environment (`apexdir dev seed`): a catalogue, one
structure, two services; idempotent."""

from __future__ import annotations

from apexdir.runtime import Runtime


def seed_demo(rt: Runtime) -> list[str]:
    """Load what is missing of `ldif/demo.ldif.j2`; the DNs created."""
    from apexdir.directory import ldif
    from apexdir.directory.mapping import parent_dn
    from apexdir.directory.provision import render
    from apexdir.resources import ldif_dir

    layout = rt.layout
    text = render(
        ldif_dir() / "demo.ldif.j2",
        layout,
        application_dn=layout.application_dn,
        profile_dn=layout.profile_dn,
        structure_dn=layout.structure_dn,
        service_dn=layout.service_dn,
    )
    created = []
    for dn, attrs in ldif.parse(text):
        if "apexService" in attrs.get("objectClass", []):
            siblings = rt.directory.search(
                parent_dn(dn), "(objectClass=apexService)", ["cn"], scope="one"
            )
            if any(str(e.get("cn")).casefold() == attrs["cn"][0].casefold() for e in siblings):
                continue  # the service names of a structure are unique
        if not rt.directory.exists(dn):
            rt.directory.add(dn, attrs)
            created.append(dn)
    rt.journal.record(
        "dev.seed", "demo data", actor=None, operator=rt.operator, details={"created": len(created)}
    )
    return created
