"""The whole content set loaded once: rules, mappings and the tuning profile, checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sigma_ext.content.locate import Location
from sigma_ext.content.mappings import Mapping, load_mappings
from sigma_ext.content.overlay import overlay_rules
from sigma_ext.content.profile import Profile, list_kinds, load_profile
from sigma_ext.content.rules import RuleFile, load_rules
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.sources.catalogue import Source, sources_for_logsource
from sigma_ext.targets import MAPPING_DIRS


@dataclass(frozen=True)
class Corpus:
    root: Path
    rules: tuple[RuleFile, ...]
    mappings: dict[tuple[str, str], Mapping]
    profile: Profile
    # where the shipped or checked-out content lives (rules, mappings, correlations); the
    # working folder's content when None
    content_root: Path | None = None

    @property
    def correlations_root(self) -> Path:
        """The folder whose ``correlations/`` holds the correlation rules: the checkout's, or
        the shipped content's when sigma-ext runs from an installed wheel."""
        return self.root if self.content_root is None else self.content_root

    def sources_of(self, rule_file: RuleFile) -> tuple[Source, ...]:
        """The sources a rule runs on, its log source's primary source first."""
        sources = sources_for_logsource(rule_file.product, rule_file.service)
        assert sources, "load_rules rejects rules without a source"
        return sources

    def mapping(self, mapping_dir: str, source: Source) -> Mapping:
        return self.mappings[(mapping_dir, source.name)]

    def rule(self, stem: str) -> RuleFile:
        for rule_file in self.rules:
            if rule_file.stem == stem:
                return rule_file
        raise KeyError(stem)


def load_corpus(root: Path, profile_path: Path, rule_roots: list[Path] | None = None) -> Corpus:
    """Load everything; raise ProblemsFound listing every problem in every file."""
    return _whole(load_content(root, profile_path, rule_roots))


def load_content(
    root: Path, profile_path: Path, rule_roots: list[Path] | None = None
) -> tuple[Corpus | None, list[Problem]]:
    """Everything that loads, and every problem found.

    The corpus holds the rules that loaded and have every mapping and placeholder they need,
    so that a check can go on to compile them in the same run; it is None when the profile
    does not load.
    """
    rules, rule_problems = load_rules(rule_roots or [root / "rules"])
    return _assemble(root, rules, rule_problems, profile_path, root, None)


def corpus_at(location: Location, profile_path: Path | None = None) -> Corpus:
    """The corpus of a located content folder; raise ProblemsFound listing every problem."""
    return _whole(content_at(location, profile_path))


def content_at(
    location: Location, profile_path: Path | None = None
) -> tuple[Corpus | None, list[Problem]]:
    """``load_content`` for a located content folder (see ``locate``): a tree or the shipped
    content as it is; a content repository as the shipped content with its own laid over it."""
    if location.kind != "repository":
        rules, problems = load_rules(location.rule_roots)
    else:
        rules, problems = overlay_rules(location)
    return _assemble(
        location.root,
        rules,
        problems,
        profile_path or location.profile,
        location.mapping_root,
        location.mapping_overrides,
    )


def _whole(loaded: tuple[Corpus | None, list[Problem]]) -> Corpus:
    corpus, problems = loaded
    if problems:
        raise ProblemsFound(problems)
    assert corpus is not None
    return corpus


def _assemble(
    root: Path,
    rules: list[RuleFile],
    rule_problems: list[Problem],
    profile_path: Path,
    mapping_root: Path,
    mapping_overrides: Path | None,
) -> tuple[Corpus | None, list[Problem]]:
    problems = list(rule_problems)
    mappings, mapping_problems = load_mappings(
        mapping_root, list(MAPPING_DIRS), overrides=mapping_overrides
    )
    problems.extend(mapping_problems)
    profile: Profile | None = None
    try:
        profile = load_profile(profile_path)
    except ProblemsFound as error:
        problems.extend(error.problems)
    if profile is None:
        return None, sorted(problems)
    complete: list[RuleFile] = []
    for rule_file in rules:
        missing = sorted(rule_file.placeholders() - set(profile.lists))
        problems.extend(_missing_placeholder(name, rule_file, profile_path) for name in missing)
        mapped = all(
            (mapping_dir, source.name) in mappings
            for mapping_dir in MAPPING_DIRS
            for source in sources_for_logsource(rule_file.product, rule_file.service)
        )
        if not missing and mapped:
            complete.append(rule_file)
    return Corpus(root, tuple(complete), mappings, profile, mapping_root), sorted(problems)


def _missing_placeholder(name: str, rule_file: RuleFile, profile_path: Path) -> Problem:
    if name in list_kinds():
        return Problem(
            str(profile_path),
            None,
            f"placeholder %{name}% used by {rule_file.path} is missing from the tuning profile",
        )
    return Problem(
        str(rule_file.path),
        rule_file.located.line_of(("detection",)),
        f"placeholder %{name}% is no list a tuning profile can hold: use one of "
        + ", ".join(f"%{known}%" for known in sorted(list_kinds())),
    )
