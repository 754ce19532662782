"""The structures, services, applications and profiles of an import: each line checked
with the workflows' own rules, what exists counted and skipped, the rest planned."""

from __future__ import annotations

import uuid

from apexdir.bulk.items import ApplicationItem, Problem, ProfileItem, ServiceItem, StructureItem
from apexdir.bulk.plan import Plan, Planned
from apexdir.bulk.refs import References
from apexdir.bulk.snapshot import profile_key
from apexdir.directory import mapping as m
from apexdir.errors import Invalid
from apexdir.models import Structure
from apexdir.rules.import_rows import app_label, service_id
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime
from apexdir.workflows.catalogue import normalize_code, parse_habilitation
from apexdir.workflows.services import _name as service_name
from apexdir.workflows.structures import _category, _clean


class EntryPlanner:
    def __init__(self, rt: Runtime, refs: References, plan: Plan) -> None:
        self.rt = rt
        self.refs = refs
        self.snap = refs.snap
        self.layout = refs.layout
        self.plan = plan

    def problem(self, line: int, reason: str) -> None:
        self.plan.problems.append(Problem(line, reason))

    # ------------------------------------------------------------------ structures
    def structures(self, items: list[StructureItem]) -> None:
        seen: dict[str, tuple[int, str, str]] = {}  # siret → (line, name, category)
        for item in items:
            try:
                siret = validate_siret(item.siret)
            except Invalid as exc:
                self.problem(item.line, str(exc))
                self.refs.bad.setdefault(f"s:{''.join(item.siret.split())}", item.line)
                continue
            if siret in self.snap.sirets:
                if siret not in seen:
                    self.plan.existing["structures"] += 1
                    seen[siret] = (item.line, "", "")
                elif not item.implicit:
                    self.problem(item.line, f"structure {siret} already at line {seen[siret][0]}")
                continue
            if item.implicit and (not item.category or not item.name):
                continue  # an APEX v1 row that names its structure without describing it
            try:
                structure = self._structure(item, siret)
            except Invalid as exc:
                self.problem(item.line, str(exc))
                self.refs.bad.setdefault(f"s:{siret}", item.line)
                continue
            if siret in seen:
                line, first_name, first_category = seen[siret]
                same = (structure.name.casefold(), structure.category) == (
                    first_name.casefold(),
                    first_category,
                )
                if not (item.implicit and same):
                    why = "differently " if item.implicit else ""
                    self.problem(item.line, f"structure {siret} described {why}at line {line}")
                continue
            seen[siret] = (item.line, structure.name, structure.category)
            attrs = {"objectClass": ["apexStructure"], **m.structure_attrs(structure)}
            self.plan.structures.append(Planned(item.line, self.layout.structure_dn(siret), attrs))
            self.refs.sirets.add(siret)

    def _structure(self, item: StructureItem, siret: str) -> Structure:
        category = _category(self.rt, item.category or "")
        name = _clean("name", item.name, required=True) or ""
        return Structure(
            siret=siret,
            category=category,
            name=name,
            trade_name=_clean("trade_name", item.trade_name),
            street=_clean("street", item.street),
            street2=_clean("street2", item.street2),
            postal_code=_clean("postal_code", item.postal_code),
            city=_clean("city", item.city),
            country=_clean("country", item.country),
        )

    # ------------------------------------------------------------------ catalogue
    def application(self, item: ApplicationItem) -> None:
        try:
            code = normalize_code(item.code)
            label = app_label(item.name)
        except Invalid as exc:
            self.problem(item.line, str(exc))
            return
        self._add_application(item.line, code, label)

    def _add_application(self, line: int, code: str, label: str) -> None:
        if code in self.refs.apps:
            self.plan.existing["applications"] += 1
            return
        self.refs.apps.add(code)
        attrs = {"objectClass": ["apexApplication"], "apexAppCode": code, "cn": label}
        self.plan.applications.append(Planned(line, self.layout.application_dn(code), attrs))

    def profile(self, item: ProfileItem) -> None:
        key = profile_key(item.app, item.name)
        try:
            code, name = parse_habilitation(item.app, item.name)
            if code not in self.refs.apps:
                if not item.app_name:
                    raise Invalid(f"application {code} does not exist: give its name")
                self._add_application(item.line, code, app_label(item.app_name))
        except Invalid as exc:
            self.problem(item.line, str(exc))
            self.refs.bad[f"p:{key}"] = item.line
            return
        if key in self.refs.profiles:
            if self.refs.profiles[key] not in self.snap.members:  # defined twice in the file
                self.problem(item.line, f"profile {code}/{name} is defined twice in the file")
            else:
                self.plan.existing["profiles"] += 1
            return
        dn = self.layout.profile_dn(code, name)
        self.refs.profiles[key] = dn
        attrs = {"objectClass": ["apexProfile"], "cn": name, "apexAppCode": code}
        self.plan.profiles.append(Planned(item.line, dn, attrs))

    # ------------------------------------------------------------------ services
    def services(self, items: list[ServiceItem]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for item in items:
            try:
                siret = self.refs.siret(item.siret)
                name = service_name(item.name)
            except Invalid as exc:
                if not item.implicit:
                    self.problem(item.line, str(exc))
                continue
            if siret not in self.refs.sirets:
                if not item.implicit:  # the accounts of an implicit service say it
                    try:
                        self.refs.known_siret(siret)
                    except Invalid as exc:
                        self.problem(item.line, str(exc))
                continue
            key = (siret, name.casefold())
            if key in seen:
                if not item.implicit:
                    self.problem(
                        item.line, f"service {name!r} of {siret} already at line {seen[key]}"
                    )
                continue
            seen[key] = item.line
            if name.casefold() in self.snap.services.get(siret, {}):
                self.plan.existing["services"] += 1
                continue
            self._add_service(item, siret, name)

    def _add_service(self, item: ServiceItem, siret: str, name: str) -> None:
        try:
            identifier = service_id(item.service_id or str(uuid.uuid4()))
        except Invalid as exc:
            self.problem(item.line, str(exc))
            return
        if identifier in self.snap.service_ids(siret):
            self.problem(item.line, f"apexServiceId {identifier} is another service's")
            return
        self.refs.services.setdefault(siret, {})[name.casefold()] = identifier
        attrs = {"objectClass": ["apexService"], "apexServiceId": identifier, "cn": name}
        dn = self.layout.service_dn(siret, identifier)
        self.plan.services.append(Planned(item.line, dn, attrs))
