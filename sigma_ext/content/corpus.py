"""The whole content set loaded once: rules, mappings and the tuning profile, checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sigma_ext.content.mappings import Mapping, load_mappings
from sigma_ext.content.profile import Profile, load_profile
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
    corpus, problems = load_content(root, profile_path, rule_roots)
    if problems:
        raise ProblemsFound(problems)
    assert corpus is not None
    return corpus


def load_content(
    root: Path, profile_path: Path, rule_roots: list[Path] | None = None
) -> tuple[Corpus | None, list[Problem]]:
    """Everything that loads, and every problem found.

    The corpus holds the rules that loaded and have every mapping and placeholder they need,
    so that a check can go on to compile them in the same run; it is None when the profile
    does not load.
    """
    problems: list[Problem] = []
    rules, rule_problems = load_rules(rule_roots or [root / "rules"])
    problems.extend(rule_problems)
    mappings, mapping_problems = load_mappings(root, list(MAPPING_DIRS))
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
        for name in missing:
            problems.append(
                Problem(
                    str(profile_path),
                    None,
                    f"placeholder %{name}% used by {rule_file.path} "
                    "is missing from the tuning profile",
                )
            )
        mapped = all(
            (mapping_dir, source.name) in mappings
            for mapping_dir in MAPPING_DIRS
            for source in sources_for_logsource(rule_file.product, rule_file.service)
        )
        if not missing and mapped:
            complete.append(rule_file)
    return Corpus(root, tuple(complete), mappings, profile), sorted(problems)
