"""`plan --base REV`: the change a branch makes to the zones, with no provider contacted.

A pull request from a fork runs without secrets, and a reviewer wants to see
what the branch changes before anyone reads a provider. Both sides go through
the same loading as every other command (octoDNS validation, dnssync's checks,
the managed apex NS), then octoDNS's own `Zone.changes` compares them, so what
review shows is exactly what a plan would compute from git alone. Zone files
that were added, deleted or renamed (file to split folder, or a new zone name)
are handled by comparing zones, not files.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import tempfile
from pathlib import Path

from octodns.zone import Zone

from dnssync.model.errors import ConfigError, UsageError
from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.model.records import zone_content
from dnssync.repo.config import Config
from dnssync.repo.desired import build_desired
from dnssync.repo.gitrev import export_folder
from dnssync.repo.repository import Repository, checked_zones
from dnssync.repo.yamlfile import YamlError, inside, load_file
from dnssync.repo.zones import discover


def _trusted_at(config: Config, rev: str) -> list[str]:
    """The `trusted_modules:` of dnssync.yaml as it is at `rev` ([] when it has none or
    does not load there: then REV trusts nothing beyond octoDNS's packages)."""
    file = Path(config.file)
    with tempfile.TemporaryDirectory(prefix="dnssync-trust-") as tmp:
        tree = export_folder(config.root, rev, file.parent, Path(tmp))
        try:
            data, _ = load_file(tree / file.name, tree)
        except (YamlError, OSError):
            return []
    listed = data.get("trusted_modules") if isinstance(data, dict) else None
    return [str(m) for m in listed] if isinstance(listed, list) else []


def _in_repository(module: str, root: Path) -> bool:
    """Whether the top-level package of `module` would be imported from a file inside the
    repository (which the branch under review can change). find_spec runs no module code."""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return False
    places = [*(spec.submodule_search_locations or []), spec.origin] if spec else []
    return any(place and inside(Path(place), root) for place in places)


def base_trust_problem(config: Config, rev: str) -> str | None:
    """Why the working tree's dnssync.yaml may not name the code `--base REV` imports, or None.

    A pull request's dnssync.yaml is not trusted (docs/SECURITY.md): only the modules
    REV's dnssync.yaml lists under `trusted_modules:` are, and only as installed packages,
    not as files in the repository the branch can change. Checked before any provider
    class is imported; octoDNS's own packages (`octodns`, `octodns_*`) need no listing."""
    trusted = sorted({m for p in config.providers.values() for m in p.trusted_modules})
    if not trusted:
        return None
    added = [m for m in trusted if m not in _trusted_at(config, rev)]
    if added:
        return (f"dnssync.yaml here lists {', '.join(added)} under trusted_modules:, which {rev}'s dnssync.yaml"
                " does not: a branch cannot add code for --base to import (merge that change first)")
    local = [m for m in trusted if _in_repository(m, config.root)]
    if local:
        return (f"trusted module {', '.join(local)} is a file in the repository, which the branch can change:"
                " --base imports trusted modules only as installed packages")
    return None


def refuse_untrusted(config: Config, rev: str) -> None:
    """UsageError (exit 2, nothing imported, no provider contacted) when base_trust_problem."""
    problem = base_trust_problem(config, rev)
    if problem:
        raise UsageError(f"--base {rev}: {problem}. Nothing was imported and no provider was contacted.")


def base_label(rev: str) -> str:
    """The pseudo-provider name that carries a git diff in a Plan."""
    return f"git:{rev}"


def _zones_at(repo: Repository, rev: str) -> dict[str, Zone]:
    with tempfile.TemporaryDirectory(prefix="dnssync-base-") as tmp:
        # the whole repository as it was at REV: an `!include` is read from REV's tree (and
        # only inside it), never from the working disk
        root, zones = repo.config.root, repo.config.zones_dir
        if not zones.resolve().is_relative_to(root.resolve()):
            root = zones  # a zones folder beside the repository: includes stay inside it
        tree = export_folder(repo.config.root, rev, root, Path(tmp))
        folder = tree / zones.resolve().relative_to(root.resolve())
        config = dataclasses.replace(repo.config, root=tree, zones_dir=folder)
        names = [z for z in discover(folder, repo.config.zone_files) if repo.selection.wants(z)]
        try:
            zones, _ = checked_zones(config, names)
        except ConfigError as e:  # named as REV:path:line, never by the scratch folder
            problems = "; ".join(f"{rev}:{f.location}: {f.message}".replace(f"{tree}/", "")
                                 for f in e.findings if f.severity is Severity.ERROR)
            raise UsageError(f"the zones at {rev} do not load, so there is nothing to compare with:"
                             f" {problems}") from None
        desired, _ = build_desired(config, zones)
        return desired


def plan_against(repo: Repository, rev: str) -> Plan:
    """A Plan whose one 'provider' per zone is `git:REV`: the changes from REV to now."""
    # imported here: `plan` and `validate` import this module, and octoDNS's YAML provider
    # (with its dumper and natsort) is only needed with --base
    from octodns.provider.yaml import YamlProvider

    base = _zones_at(repo, rev)
    head = repo.desired
    label = base_label(rev)
    # octoDNS's comparison asks its target what it supports; YAML supports every type
    target = YamlProvider(label, directory=str(repo.config.zones_dir), supports_root_ns=True)
    plans: list[ProviderPlan] = []
    findings: list[Finding] = []
    for name in sorted(set(base) | set(head)):
        before = base.get(name) or Zone(name, head[name].sub_zones)
        after = head.get(name) or Zone(name, before.sub_zones)
        changes = [Change.from_octodns(c) for c in before.changes(after, target)]
        plans.append(ProviderPlan(provider=label, zone=name, exists=name in base, changes=changes,
                                  existing_count=len(before.records)))
        if name not in head:
            findings.append(Finding(
                Severity.WARNING, "git.zone-removed",
                f"zone {name} is no longer in git: dnssync stops managing it, and every provider keeps"
                " serving its last content until the zone is removed there", zone=name))
    plan = Plan(zones={n: zone_content(z) for n, z in sorted(head.items())}, providers=plans,
                findings=findings, revision=repo.revision, base=rev)
    repo.locate_changes(plan)
    return plan
