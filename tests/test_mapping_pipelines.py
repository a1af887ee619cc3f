"""The pipelines of one mapping share the items parsed once from its file; each still processes a
rule as a pipeline of its own would, whichever was made last."""

from __future__ import annotations

from typing import Any

from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaNull

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import SIGMA_EXT_STATE, _pipeline, conversion_pipeline
from sigma_ext.content.rules import RuleFile
from sigma_ext.targets import MAPPING_DIRS


def test_an_earlier_pipeline_of_a_mapping_processes_as_a_fresh_one(corpus: Corpus) -> None:
    processed = 0
    for rule_file in corpus.rules:
        for mapping_dir in MAPPING_DIRS:
            for source in corpus.sources_of(rule_file):
                mapping = corpus.mapping(mapping_dir, source)
                earlier = conversion_pipeline(mapping, corpus.profile)
                later = conversion_pipeline(mapping, corpus.profile)
                assert earlier is not later
                # ``earlier`` is applied after ``later`` was made from the same items
                got = _outcome(earlier, rule_file)
                assert got == _outcome(conversion_pipeline(mapping, corpus.profile), rule_file)
                processed += got[0] == "processed"
    assert processed > len(corpus.rules)


def test_a_mapping_is_parsed_once_into_what_its_file_says(corpus: Corpus) -> None:
    for mapping in corpus.mappings.values():
        made = mapping.pipeline()
        parsed = _pipeline(mapping.path, mapping.data)
        assert made is not mapping.pipeline()
        assert [type(i.transformation) for i in made.items] == [
            type(i.transformation) for i in parsed.items
        ]
        assert [i.identifier for i in made.items] == [i.identifier for i in parsed.items]
        assert (made.name, made.priority, made.vars) == (parsed.name, parsed.priority, parsed.vars)


def _outcome(pipeline: ProcessingPipeline, rule_file: RuleFile) -> Any:
    """What the pipeline made of a fresh copy of the rule, and the state it set; or its error."""
    rule = rule_file.fresh()
    try:
        pipeline.apply(rule)
    except SigmaError as error:
        return "failed", str(error)
    assert pipeline.state.get(SIGMA_EXT_STATE) is True
    return "processed", _processed(rule), dict(pipeline.state)


def _shape(item: SigmaDetection | SigmaDetectionItem) -> Any:
    if isinstance(item, SigmaDetection):
        return tuple(_shape(i) for i in item.detection_items)
    return (
        item.field,
        tuple(f"{type(v).__name__}:{'' if isinstance(v, SigmaNull) else v}" for v in item.value),
        sorted(str(i) for i in item.applied_processing_items),
    )


def _processed(rule: SigmaRule) -> Any:
    """What a pipeline made of the rule: its detections, conditions and attributes."""
    return (
        {name: _shape(d) for name, d in rule.detection.detections.items()},
        [c.condition for c in rule.detection.parsed_condition],
        sorted((k, str(v)) for k, v in rule.custom_attributes.items()),
    )
