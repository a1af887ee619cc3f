"""Logs as they arrive: every input shape, read the same way by both engines.

``fixtures/shapes/<name>.json[.gz]`` (a container log file: ``.log`` rotated, as ``.1`` or ``.gz``) holds one shape
(``<name>.hits.yml``: the shape, and for each record its line, its position in its batch when it
is in one, and the source fixture event it was made from). The
verdicts expected are that event's, from its own ``.expect.yml``: a shape changes how events are
delivered, never what they mean.
"""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from sigma_ext.cli.hunt import hunt_inputs
from sigma_ext.content.fixtures import load_cases
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import open_inputs
from sigma_ext.reference.engine import ReferenceEngine

from .conftest import ROOT

SHAPES = ROOT / "fixtures" / "shapes"
EXPECTED = {
    case.where.removeprefix(str(ROOT / "fixtures") + "/"): case
    for case in load_cases(
        ROOT / "fixtures", sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
    )
}


def hunt(
    names: list[str],
    engine: ReferenceEngine,
    fast: FastHunt | None,
    tmp_path: Path,
    strict: bool = False,
) -> tuple[int, str, str]:
    """What ``sigma-ext hunt`` prints and returns, with the session's engines."""
    folder = tmp_path / ("fast" if fast else "reference")
    folder.mkdir(exist_ok=True)
    out, err = io.StringIO(), io.StringIO()
    inputs, errors = open_inputs(names, folder)
    if errors:
        return 2, "", "\n".join(errors)
    code = hunt_inputs(inputs, engine, fast, None, strict, folder, out, err)
    return code, out.getvalue(), err.getvalue()


def both(
    names: list[str],
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    strict: bool = False,
) -> tuple[int, str, str]:
    """The reference engine's output, after checking the fast engine's is the same."""
    reference = hunt(names, engine, None, tmp_path, strict)
    assert hunt(names, engine, fast, tmp_path, strict) == reference
    return reference


def shape_files() -> list[Path]:
    return sorted(p for p in SHAPES.iterdir() if not p.name.endswith(".hits.yml"))


def test_every_shape_has_its_expectations() -> None:
    stems = {p.name.split(".")[0] for p in shape_files()}
    assert stems == {p.name.removesuffix(".hits.yml") for p in SHAPES.glob("*.hits.yml")}
    assert len(stems) >= 6


@pytest.mark.parametrize("shape", shape_files(), ids=lambda p: p.name)
def test_each_shape_gives_each_records_own_verdicts_in_both_engines(
    shape: Path, engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    expect = yaml.safe_load((SHAPES / (shape.name.split(".")[0] + ".hits.yml")).read_text())
    code, out, err = both([str(shape)], engine, fast, tmp_path, strict=True)
    assert code == 0, err
    fired: dict[tuple[int, int | None], set[str]] = defaultdict(set)
    for line in out.splitlines():
        hit = json.loads(line)
        assert hit["file"] == str(shape)
        fired[hit["line"], hit.get("record")].add(hit["rule"])
    wanted = {
        (r["line"], r.get("record")): set(EXPECTED[r["from"]].fires)
        for r in expect["records"]
        if EXPECTED[r["from"]].fires
    }
    assert dict(fired) == wanted
    # ``noise``: the lines read as events of a source that come from no fixture and fire nothing
    # (a kube-apiserver's own klog lines beside its audit events)
    noise = expect.get("noise", [])
    assert not {(n["line"], None) for n in noise} & set(fired)
    sources: dict[str, int] = defaultdict(int)
    for record in expect["records"]:
        sources[EXPECTED[record["from"]].source] += 1
    for read in noise:
        sources[read["source"]] += 1
    per_source = ", ".join(f"{name} {n}" for name, n in sorted(sources.items()))
    assert err.splitlines() == [
        f"{shape}: {len(expect['records']) + len(noise)} record(s) read ({per_source}); "
        "0 not recognised; 0 malformed"
    ]


def test_standard_input_is_read_as_a_file_is(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shape = SHAPES / "cloudtrail_s3.json.gz"
    _, from_file, _ = both([str(shape)], engine, fast, tmp_path)
    for kind in ("reference", "fast"):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(shape.read_bytes())))
        code, out, err = hunt(["-"], engine, fast if kind == "fast" else None, tmp_path)
        assert code == 0
        assert out == from_file.replace(json.dumps(str(shape)), json.dumps("-"))
        assert err.startswith("-: 12 record(s) read (aws_cloudtrail 12)")


def test_reading_a_batch_reports_progress_and_ends_at_100(
    engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigma_ext.hunt.reference import hunt_input

    monkeypatch.setattr("sigma_ext.hunt.inputs.PROGRESS_UNITS", 2)
    inputs, _ = open_inputs([str(SHAPES / "audit_webhook_eventlist.json")], tmp_path)
    seen: list[tuple[str, float]] = []
    list(hunt_input(engine, inputs[0], None, lambda *report: seen.append(report)))
    percents = [percent for _, percent in seen]
    assert len(percents) > 3
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
