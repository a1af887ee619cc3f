"""An S3 dump: many small gzip files of CloudTrail documents, read the same way by both engines.

Each record of each file gets the verdicts its event gets on its own (the same event as one line
of a JSON Lines file), named ``file:line#N``; a corrupt, truncated, empty or two-document file
among them is reported as it is alone, and the files around it are read in full.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.reference.engine import ReferenceEngine

from .conftest import ROOT
from .test_hunt_shapes import both

EVENTS = [
    line
    for path in sorted((ROOT / "fixtures" / "aws_cloudtrail").glob("*.jsonl"))
    for line in path.read_text().splitlines()
    if line.strip()
]


def fired_alone(engine: ReferenceEngine, fast: FastHunt, tmp_path: Path) -> list[set[str]]:
    """The rules each of ``EVENTS`` fires as one line of a JSON Lines file."""
    flat = tmp_path / "alone.jsonl"
    flat.write_text("\n".join(EVENTS) + "\n")
    _, out, _ = both([str(flat)], engine, fast, tmp_path)
    fired: list[set[str]] = [set() for _ in EVENTS]
    for line in out.splitlines():
        hit = json.loads(line)
        fired[hit["line"] - 1].add(hit["rule"])
    return fired


def document(indexes: list[int], pretty: bool = False) -> str:
    records = [json.loads(EVENTS[i]) for i in indexes]
    if pretty:
        return json.dumps({"Records": records}, indent=2)
    return '{"Records":[' + ",".join(EVENTS[i] for i in indexes) + "]}"


def by_place(out: str) -> dict[tuple[str, int, int | None], set[str]]:
    fired: dict[tuple[str, int, int | None], set[str]] = defaultdict(set)
    for line in out.splitlines():
        hit = json.loads(line)
        fired[hit["file"], hit["line"], hit.get("record")].add(hit["rule"])
    return dict(fired)


def test_many_small_gzip_files_give_each_record_its_own_verdicts_named_by_file_and_record(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    alone = fired_alone(engine, fast, tmp_path)
    # both verdicts are among the events
    assert any(alone)
    assert not all(alone)
    folder = tmp_path / "s3"
    folder.mkdir()
    names, expected = [], {}
    for number in range(40):
        indexes = [(number * 7 + k) % len(EVENTS) for k in range(1 + number % 5)]
        path = folder / f"123456789012_CloudTrail_eu-west-1_{number:05d}.json.gz"
        path.write_bytes(
            gzip.compress(document(indexes, pretty=number % 3 == 0).encode(), 6, mtime=0)
        )
        names.append(str(path))
        lines = [1] * len(indexes)
        if number % 3 == 0:  # each record's line in the indented document
            text = document(indexes, pretty=True).splitlines()
            starts = [n for n, line in enumerate(text, 1) if line == "    {"]
            lines = starts
        for k, (index, line) in enumerate(zip(indexes, lines, strict=True), 1):
            if alone[index]:
                expected[str(path), line, k] = alone[index]
    code, out, err = both(names, engine, fast, tmp_path, strict=True)
    assert code == 0, err
    assert by_place(out) == expected
    *summaries, total = err.splitlines()
    assert len(summaries) == 40
    assert all(" 0 not recognised; 0 malformed" in s for s in summaries)
    records = sum(1 + number % 5 for number in range(40))
    assert total == (
        f"all 40 files: {records} record(s) read (aws_cloudtrail {records}); "
        "0 not recognised; 0 malformed"
    )


def test_a_corrupt_truncated_empty_or_two_document_file_among_them_is_reported_alone(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    alone = fired_alone(engine, fast, tmp_path)
    hitting = [i for i, rules in enumerate(alone) if rules][:3]
    good = gzip.compress(document(hitting).encode(), mtime=0)
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    files = {
        "a.json.gz": good,
        "corrupt.json.gz": bytes(flipped),
        "b.json.gz": good,
        "truncated.json.gz": good[: len(good) // 2],
        "empty.json.gz": gzip.compress(b"", mtime=0),
        "two.json.gz": gzip.compress((document(hitting) + "\n" + document(hitting)).encode()),
        "members.json.gz": good + good,
        "junk.json.gz": good + b"not gzip",
        "c.json.gz": good,
    }
    names = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        names.append(str(tmp_path / name))
    code, out, err = both(names, engine, fast, tmp_path)
    assert code == 0
    fired = by_place(out)
    for name in ("a", "b", "c"):
        assert {k: v for k, v in fired.items() if k[0].endswith(f"/{name}.json.gz")} == {
            (str(tmp_path / f"{name}.json.gz"), 1, k): alone[i] for k, i in enumerate(hitting, 1)
        }
    # a file of two documents (or members) numbers its records on from one to the next
    for name, second in (("two", 2), ("members", 1)):
        places = sorted(k[1:] for k in fired if k[0].endswith(f"/{name}.json.gz"))
        assert places == [(1, 1), (1, 2), (1, 3), (second, 4), (second, 5), (second, 6)]
    assert "corrupt gzip data" in err
    assert "truncated gzip" in err
    assert "8 byte(s) after the end of the gzip data ignored" in err
    assert f"{tmp_path / 'empty.json.gz'}: 0 record(s) read" in err


def test_a_first_record_or_key_longer_than_the_probe_still_makes_a_batch(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    alone = fired_alone(engine, fast, tmp_path)
    index = next(i for i, rules in enumerate(alone) if rules)
    event = json.loads(EVENTS[index])
    event["requestParameters"] = {**(event.get("requestParameters") or {}), "pad": "x" * 70_000}
    long_record = json.dumps({"Records": [event, json.loads(EVENTS[index])]})
    long_key = json.dumps({"padding": "y" * 70_000, "Records": [json.loads(EVENTS[index])]})
    names = []
    for name, text in (("long_record", long_record), ("long_key", long_key)):
        path = tmp_path / f"{name}.json.gz"
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
        names.append(str(path))
    code, out, err = both(names, engine, fast, tmp_path, strict=True)
    assert code == 0, err
    fired = by_place(out)
    assert fired[str(tmp_path / "long_record.json.gz"), 1, 2] == alone[index]
    assert fired[str(tmp_path / "long_key.json.gz"), 1, 1] == alone[index]
    assert "long_record.json.gz: 2 record(s) read (aws_cloudtrail 2)" in err


@pytest.mark.parametrize("packed", ["plain", "gzip", "gzip members"])
def test_a_document_of_many_chunks_keeps_every_records_line(
    packed: str, engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    """Lines are counted across the chunks read and dropped (more than a chunk of text), and
    across the pieces gzip is unpacked in and its members' ends (cut inside records)."""
    alone = fired_alone(engine, fast, tmp_path)
    indexes = [k % len(EVENTS) for k in range(3000)]
    text = document(indexes, pretty=True)
    assert len(text) > 3 << 20
    path = tmp_path / ("big.json" if packed == "plain" else "big.json.gz")
    if packed == "plain":
        path.write_text(text)
    else:
        data = text.encode()
        cuts = [0, len(data)] if packed == "gzip" else [0, 1_000_003, 2_500_001, len(data)]
        path.write_bytes(
            b"".join(gzip.compress(data[a:b], mtime=0) for a, b in itertools.pairwise(cuts))
        )
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line == "    {"]
    code, out, err = both([str(path)], engine, fast, tmp_path, strict=True)
    assert code == 0, err
    assert by_place(out) == {
        (str(path), starts[k], k + 1): alone[i] for k, i in enumerate(indexes) if alone[i]
    }


def test_a_key_before_the_batch_spaced_as_json_dumps_writes_and_stray_commas_end(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    """``{"k": "v", "Records": [...]}`` (a space after the colon) is a batch (it was one record
    cut after "v", then bad lines without end), and a ',' between documents is one bad line."""
    alone = fired_alone(engine, fast, tmp_path)
    index = next(i for i, rules in enumerate(alone) if rules)
    event = json.loads(EVENTS[index])
    path = tmp_path / "spaced.json"
    path.write_text(json.dumps({"k": "v", "Records": [event]}) + " , " + json.dumps(event) + "\n")
    code, out, err = both([str(path)], engine, fast, tmp_path)
    assert code == 0
    assert by_place(out) == {(str(path), 1, 1): alone[index], (str(path), 1, None): alone[index]}
    assert err.splitlines() == [
        f"{path}:1: skipped: not a JSON object or array",
        f"{path}: 3 record(s) read (aws_cloudtrail 2); 0 not recognised; 1 malformed",
    ]
