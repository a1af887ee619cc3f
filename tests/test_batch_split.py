"""Batch documents split in C (``sigma_ext.hunt.batch_split``) give the records the Python reader
gives, or are left to it; and a hunt of inputs split so is counted and judged as the reference
engine counts and judges them.

The splitter is proved against the reader itself (``batches.read_documents``): on every batch
fixture, on documents generated with the shapes the reader treats specially (whitespace it
skips, escapes, line breaks in strings, trailing commas, keys it reads differently, elements
that are no objects, NaN), and on named refusals. What it accepts must come out record for
record, line for line; what it refuses the reader reads (and reports), as before.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.cli.hunt import hunt_inputs
from sigma_ext.hunt import batch_split, judged_splits, spool
from sigma_ext.hunt.batches import Broken, Record, read_documents
from sigma_ext.hunt.fast import line_kinds
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import Input, open_inputs
from sigma_ext.hunt.judged_splits import Judged
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, source_named

from .conftest import ROOT, fixture_lines
from .test_hunt_shapes import both

LONGEST = 16 << 20
SHAPES = ROOT / "fixtures" / "shapes"


def test_the_install_builds_the_splitter() -> None:
    """(Without a C compiler the install goes on, and the Python reader reads every document;
    the project's own install on a fresh machine has one.)"""
    assert batch_split.native_available()


def _split(text: str | bytes) -> list[tuple[bytes, int, int]] | None:
    """(record text, line, place) of each record C splits ``text`` into; None when refused."""
    data = text.encode() if isinstance(text, str) else text
    native = batch_split._load()
    assert native is not None
    made = native(data, batch_split._KEYS, batch_split._REFUSED, LONGEST)
    if made is None:
        return None
    records, starts, stops, consumed, _ = made
    assert consumed == len(data)
    lines = memoryview(starts).cast("I").tolist()
    ends = memoryview(stops).cast("I").tolist()
    texts = [records[a:b] for a, b in zip([0, *ends], ends, strict=False)]
    assert all(t.endswith(b"\n") and t.count(b"\n") == 1 for t in texts)
    assert b"".join(texts) == records
    return [(t[:-1], line, at) for at, (t, line) in enumerate(zip(texts, lines, strict=True), 1)]


def _read(text: str) -> tuple[list[tuple[bytes, int, int | None]], list[Broken]]:
    """What the Python reader finds in ``text``: its records, and what it reports."""
    records: list[tuple[bytes, int, int | None]] = []
    broken: list[Broken] = []
    for item in read_documents(iter([text])):
        if isinstance(item, Record):
            records.append((item.text.encode(), item.line, item.record))
        else:
            broken.append(item)
    return records, broken


def _agrees(text: str) -> bool:
    """Whether C split ``text`` (else refused it); either way, never otherwise than the
    reader."""
    split = _split(text)
    if split is None:
        return False
    records, broken = _read(text)
    assert broken == []
    assert split == records
    return True


def _batch_inputs() -> list[Path]:
    return sorted(p for p in SHAPES.iterdir() if not p.name.endswith(".hits.yml"))


@pytest.mark.parametrize("shape", _batch_inputs(), ids=lambda p: p.name)
def test_every_batch_fixture_splits_as_the_reader_reads_it(shape: Path, tmp_path: Path) -> None:
    inputs, errors = open_inputs([str(shape)], tmp_path)
    assert errors == []
    (found,) = inputs
    if not found.batch:
        assert batch_split.split_input(found, LONGEST) is None
        return
    text = (gzip.decompress(shape.read_bytes()) if found.gzip else shape.read_bytes()).decode()
    made = batch_split.split_input(found, LONGEST)
    if shape.name.startswith(("gcloud_logging_read", "lookup_events")):
        # a top-level array, and records inside CloudTrailEvent strings: the reader's
        assert made is None
        return
    assert made is not None
    assert _agrees(text)
    split = _split(text)
    assert split is not None
    assert [line for _, line, _ in split] == made.lines.tolist()


@pytest.mark.parametrize(
    ("why", "text"),
    [
        ("a top-level array", '[{"a":1},{"b":2}]'),
        ("a document with no batch", '{"a":1}'),
        ("an empty document", "{}"),
        ("a trailing comma in the batch", '{"Records":[{"a":1},]}'),
        ("a trailing comma in the document", '{"Records":[{"a":1}],}'),
        ("records inside CloudTrailEvent strings", '{"Events":[{"CloudTrailEvent":"{}"}]}'),
        (
            "a batch beside them",
            '{"Records":[{"a":1}],"Events":[{"CloudTrailEvent":"{\\"b\\":2}"}]}',
        ),
        ("an escaped key (the reader decodes it)", '{"\\u0052ecords":[{"a":1}]}'),
        ("a key holding a tab", '{"Rec\tords":[{"a":1}]}'),
        ("an element that is a string", '{"Records":["x"]}'),
        ("an element that is a number", '{"Records":[1]}'),
        ("an element that is an array", '{"Records":[[{"a":1}]]}'),
        ("NaN outside strings", '{"Records":[{"a":NaN}]}'),
        ("Infinity outside strings", '{"Records":[{"a":-Infinity}]}'),
        ("a control character outside strings", '{"Records":[{"a":\x001}]}'),
        ("the text ends inside a record", '{"Records":[{"a":"b'),
        ("the text ends inside the batch", '{"Records":[{"a":1}'),
        ("the text ends inside the document", '{"Records":[{"a":1}]'),
        ("junk after the document", '{"Records":[{"a":1}]} x'),
        ("a missing comma", '{"Records":[{"a":1} {"b":2}]}'),
        ("a scalar with a character Python's \\s reads as a space", '{"n":1\x1c,"Records":[]}'),
        ("a scalar with a byte that is not ASCII", '{"n":1\u00a0,"Records":[]}'),
        ("an empty scalar", '{"n":,"Records":[{"a":1}]}'),
        ("nothing at all", " \n "),
    ],
)
def test_what_the_reader_reads_its_own_way_is_left_to_it(why: str, text: str) -> None:
    assert _split(text) is None, why


@pytest.mark.parametrize(
    ("why", "text"),
    [
        ("documents one after another", '{"Records":[{"a":1}]}{"Records":[{"b":2}]}'),
        ("whitespace the reader skips", '\v\f {"Records" :\r\n[ {"a":1} ,\n{"b":2} ] }\n'),
        ("a line break inside a record", '{"Records":[{"a":\n1,\r\n"b":"c"}]}'),
        ("a line break inside a string", '{"Records":[{"a":"x\ny"}]}'),
        ("an escaped quote and backslash", '{"Records":[{"a":"\\"}\\\\","b":"]"}]}'),
        ("two batches in one document", '{"Records":[{"a":1}],"records":[{"b":2}]}'),
        ("an empty batch", '{"Records":[],"items":[{"b":2}]}'),
        ("a batch key holding no array", '{"Records":null,"items":[{"b":2}]}'),
        ("other keys around the batch", '{"x":{"y":[1,"]"]},"items":[{"b":2}],"z":true}'),
        ("a record that is not JSON (reported by the hunt)", '{"Records":[{"b" 2},{"a":tru}]}'),
        ("text that is not ASCII", '{"Records":[{"a":"é\u2028ü"}]}'),
        ("a CloudWatch payload", '{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"}]}'),
    ],
)
def test_plain_documents_split_as_the_reader_reads_them(why: str, text: str) -> None:
    assert _agrees(text), why


_SCALARS = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_SPACE = st.sampled_from(["", " ", "\n", "\r\n", "\t", "\v", "\f", "  \n "])
_ODD_ELEMENTS = st.sampled_from(
    ['{"b" 2}', '{"a":tru}', '{"a":NaN}', '"x"', "7", "[1]", '{"a":"\\q"}', '{"a":"\x01"}']
)
_KEYS = st.sampled_from(
    ["Records", "records", "items", "logEvents", "Events", "other", "\\u0052ecords", "Rec\tords"]
)


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """One to three documents, with what the reader reads its own way now and then."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        out.append(draw(_SPACE))
        members: list[str] = []
        for _ in range(draw(st.integers(0, 3))):
            key = draw(_KEYS)
            if draw(st.booleans()):
                elements = [
                    draw(_ODD_ELEMENTS)
                    if draw(st.integers(0, 9)) == 0
                    else json.dumps(
                        draw(st.dictionaries(st.text(max_size=4), _VALUES, max_size=4)),
                        ensure_ascii=draw(st.booleans()),
                        indent=draw(st.sampled_from([None, None, 1])),
                    )
                    for _ in range(draw(st.integers(0, 3)))
                ]
                comma = "," + draw(_SPACE)
                trailing = "," if elements and draw(st.integers(0, 9)) == 0 else ""
                value = "[" + draw(_SPACE) + comma.join(elements) + trailing + "]"
            else:
                value = json.dumps(draw(_VALUES))
            members.append(f'"{key}"' + draw(_SPACE) + ":" + draw(_SPACE) + value)
        out.append("{" + ("," + draw(_SPACE)).join(members) + "}")
    out.append(draw(_SPACE))
    return "".join(out)


@settings(max_examples=400, deadline=None)
@given(_documents())
def test_generated_documents_split_as_the_reader_reads_them_or_are_left_to_it(text: str) -> None:
    _agrees(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.dictionaries(st.text(max_size=5), _VALUES, min_size=1, max_size=4), max_size=4),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(["Records", "records", "items", "logEvents"]),
    st.sampled_from([None, 2]),
)
def test_documents_as_exporters_write_them_are_split(
    batches: list[list[dict[str, object]]], key: str, indent: int | None
) -> None:
    """What ``json.dumps`` writes (no NaN: a JSON writer's output) is always split, so the
    property above is not met by refusing everything."""
    text = "\n".join(json.dumps({"id": 1, key: batch}, indent=indent) for batch in batches)
    assert _agrees(text)


def _input(tmp_path: Path, name: str, data: bytes) -> Input:
    path = tmp_path / name
    path.write_bytes(data)
    inputs, errors = open_inputs([str(path)], tmp_path)
    assert errors == []
    return inputs[0]


DOCUMENT = b'{"Records":[{"eventSource":"ecs.amazonaws.com"},{"a":1}]}'


def test_gzip_whole_is_split_and_anything_to_report_is_left_to_the_reader(tmp_path: Path) -> None:
    packed = gzip.compress(DOCUMENT, mtime=0)
    two = gzip.compress(DOCUMENT[:20], mtime=0) + gzip.compress(DOCUMENT[20:], mtime=0)
    for name, data in [("plain.json", DOCUMENT), ("one.gz", packed), ("members.gz", two)]:
        made = batch_split.split_input(_input(tmp_path, name, data), LONGEST)
        assert made is not None, name
        assert made.records == b'{"eventSource":"ecs.amazonaws.com"}\n{"a":1}\n'
    bom = batch_split.split_input(_input(tmp_path, "bom.json", b"\xef\xbb\xbf" + DOCUMENT), 99)
    assert bom is not None
    assert bom.lines.tolist() == [1, 1]
    for name, data in [
        ("truncated.gz", packed[:-12]),
        ("junk.gz", packed + b"junk"),
        ("padded.gz", packed + b"\0" * 8),
        ("corrupt.gz", packed[:12] + b"\xff" * 8 + packed[20:]),
        ("latin1.json", DOCUMENT.replace(b"a", b"\xe9")),
    ]:
        assert batch_split.split_input(_input(tmp_path, name, data), LONGEST) is None, name
    assert batch_split.split_input(_input(tmp_path, "long.json", DOCUMENT), 10) is None
    large = gzip.compress(DOCUMENT * 20, mtime=0)
    assert len(large) < len(DOCUMENT) * 20 - 1
    big = _input(tmp_path, "big.gz", large)
    with pytest.raises(batch_split.TooLarge):  # unpacked
        batch_split.split_input(big, LONGEST, len(DOCUMENT) * 20 - 1)
    with pytest.raises(batch_split.TooLarge):  # on disk already
        batch_split.split_input(big, LONGEST, len(large) - 1)
    made = batch_split.split_input(big, LONGEST, len(DOCUMENT) * 20)
    assert made is not None
    assert len(made.lines) == 40


def test_line_kinds_have_room_for_every_source() -> None:
    assert line_kinds.SCANNED + len(SOURCES) < line_kinds.NO_SOURCE


def _documents_of(tmp_path: Path) -> list[str]:
    """Gzip CloudTrail documents (records with look-alike sources, escapes and repeated keys
    among them), one with a record of no source and one not JSON, one mixing in a Docker
    event, an Azure document, an audit EventList, Kubernetes Event objects (no prefilter knows
    them), a pretty-printed one and a JSON Lines file between them."""
    cloudtrail = fixture_lines("aws_cloudtrail")
    variants = []
    for line in cloudtrail:
        event = json.loads(line)
        variants += [
            line,
            line[:-1] + ',"' + next(iter(event)) + '":"repeated"}',
            line.replace('"', '"\\u0041', 1),
            json.dumps({**event, "eventSource": "ecs.amazonaws.com.evil.example"}),
        ]
    names = []

    def write(name: str, text: str, packed: bool = True) -> None:
        path = tmp_path / name
        path.write_bytes(gzip.compress(text.encode(), mtime=0) if packed else text.encode())
        names.append(str(path))

    for number in range(0, len(variants), 9):
        write(
            f"ct_{number:04d}.json.gz",
            '{"Records":[' + ",".join(variants[number : number + 9]) + "]}",
        )
        if number == 18:
            write("odd.json.gz", '{"Records":[' + cloudtrail[0] + ',{"a":1},{"b" 2},{"c":tru}]}')
            write("lines.jsonl", "\n".join(cloudtrail[:3]) + "\n", packed=False)
        if number == 27:
            docker = fixture_lines("docker_events")[0]
            write("mixed.json.gz", '{"Records":[' + cloudtrail[1] + "," + docker + "]}")
            azure = ",".join(fixture_lines("azure_activitylogs"))
            write("activity.json", '{"records":[' + azure + "]}", packed=False)
    audit = ",".join(fixture_lines("kubernetes_audit"))
    write("audit.json", '{"kind":"EventList","items":[' + audit + "]}", packed=False)
    pretty = [json.loads(line) for line in cloudtrail[:5]]
    write("pretty.json", json.dumps({"Records": pretty}, indent=2), packed=False)
    kube_events = fixture_lines("kubernetes_events")
    write(
        "events.json", '{"kind":"EventList","items":[' + ",".join(kube_events) + "]}", packed=False
    )
    return names


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the inputs split in C, from now on."""
    split: list[str] = []
    real = batch_split.split_input

    def spy(found: Input, longest: int, *limit: int) -> batch_split.Split | None:
        made = real(found, longest, *limit)
        if made is not None:
            split.append(Path(found.name).name)
        return made

    monkeypatch.setattr(spool, "split_input", spy)
    return split


def test_inputs_split_in_c_are_judged_and_counted_as_the_reference_engine_does(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _documents_of(tmp_path)
    split = _spied(monkeypatch)
    code, out, err = both(names, engine, fast, tmp_path)
    assert code == 0
    # every document but the JSON Lines file was split, and their lines were told apart: by the
    # prefilter, the scan, and the reference engine for those no source claims
    assert sorted(split) == sorted(Path(name).name for name in names if not name.endswith(".jsonl"))
    assert '"record": ' in out  # the malicious records fire, named by their place
    assert "odd.json.gz:1: record 3: skipped:" in err
    assert (
        "odd.json.gz: 4 record(s) read (aws_cloudtrail 1); 1 not recognised (at line 1 record 2); 2 malformed"
        in err
    )
    assert "mixed.json.gz: 2 record(s) read (aws_cloudtrail 1, docker_events 1)" in err
    assert "activity.json: " in err
    assert "events.json: " in err


def test_each_spool_group_is_told_by_the_prefilter_the_scan_or_read_again(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CloudTrail document's records are judged by CloudTrail's prefilter as they are split
    (``judged_splits``): the spool gets only those it passes on, each told by the scan. A spool
    of Kubernetes Event objects, which no prefilter knows, is told by the scan (every row left
    to the reference engine, and read again to be counted)."""
    names = _documents_of(tmp_path)
    told: list[tuple[tuple[str, ...], bytes]] = []
    real = spool.FastInputs._count_split
    judged: list[Judged | None] = []
    real_judged = judged_splits.judged

    def spy(self: spool.FastInputs, written: spool._Spool, kinds: line_kinds.LineKinds) -> None:
        told.append((kinds.sources, bytes(kinds.told)))
        real(self, written, kinds)

    def judged_spy(*args: Any) -> Judged | None:
        judged.append(real_judged(*args))
        return judged[-1]

    monkeypatch.setattr(spool.FastInputs, "_count_split", spy)
    monkeypatch.setattr(judged_splits, "judged", judged_spy)
    plain = tmp_path / "plain.json.gz"
    records = fixture_lines("aws_cloudtrail")
    # a key spelt with an escape: the prefilter cannot tell it is no tested key, and passes it on
    records.insert(2, records[0].replace('"eventName"', '"event\\u004eame"', 1))
    plain.write_bytes(gzip.compress(('{"Records":[' + ",".join(records) + "]}").encode(), mtime=0))
    both([str(plain)], engine, fast, tmp_path)
    [made] = judged[-1:]
    assert made is not None
    assert made.verdicts.prefilter.sources == ("aws_cloudtrail",)
    assert 2 in made.verdicts.passed
    assert len(made.verdicts.passed) <= len(records) // 2
    assert sum(made.gone) == len(records) - len(made.verdicts.passed)
    _, ct_kinds = told[-1]
    assert len(ct_kinds) == len(made.verdicts.passed)  # the spool: the records passed on, no other
    assert not set(ct_kinds) & {line_kinds.PASSED, line_kinds.UNTOLD}  # each told by the scan
    judged.clear()
    both([names[-1]], engine, fast, tmp_path)  # the Kubernetes Event objects
    assert judged == [None]  # (no prefilter knows them)
    ev_sources, ev_kinds = told[-1]
    assert ev_sources == ()
    assert set(ev_kinds) == {line_kinds.REFERENCE}


def test_a_forced_source_counts_split_records_as_that_source(
    engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [n for n in _documents_of(tmp_path) if Path(n).name.startswith(("ct_", "odd"))]
    cloudtrail = source_named("aws_cloudtrail")
    forced = FastHunt(engine, cloudtrail, threads=1)
    split = _spied(monkeypatch)
    outputs = []
    for fast in (forced, None):
        folder = tmp_path / ("fast" if fast else "reference")
        folder.mkdir(exist_ok=True)
        out, err = io.StringIO(), io.StringIO()
        inputs, _ = open_inputs(names, folder)
        code = hunt_inputs(inputs, engine, fast, cloudtrail, False, folder, out, err)
        outputs.append((code, out.getvalue(), err.getvalue()))
    assert outputs[0] == outputs[1]
    assert len(split) == len(names)
    assert (
        "odd.json.gz: 4 record(s) read (aws_cloudtrail 2); 0 not recognised; 2 malformed"
        in outputs[0][2]
    )


@pytest.mark.parametrize("limit", ["AHEAD_INPUT", "AHEAD_UNPACKED"])
def test_an_input_too_large_to_split_ahead_is_split_in_its_turn(
    limit: str,
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [n for n in _documents_of(tmp_path) if Path(n).name.startswith(("ct_", "odd"))]
    expected = both(names, engine, fast, tmp_path)
    monkeypatch.setattr(spool, limit, 100)
    split = _spied(monkeypatch)
    assert both(names, engine, fast, tmp_path) == expected
    assert len(split) == len(names)


def _pieces(tmp_path: Path, text: str, piece: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What ``split_pieces`` makes of ``text`` read ``piece`` bytes at a time: (record text,
    line, place) of each record, or None when it refuses."""
    monkeypatch.setattr(batch_split, "PIECE", piece)
    path = tmp_path / "pieces.json"
    path.write_bytes(text.encode())
    found = Input(str(path), path, None, False, True)
    made: list[tuple[bytes, int, int]] = []
    try:
        for split in batch_split.split_pieces(found, LONGEST):
            texts = split.records.split(b"\n")[:-1]
            assert len(texts) == len(split.lines)
            made += [
                (t, line, split.before + at)
                for at, (t, line) in enumerate(zip(texts, split.lines, strict=True), 1)
            ]
    except batch_split.Refused:
        return None
    return made


@settings(max_examples=300, deadline=None)
@given(_documents(), st.integers(1, 64))
def test_documents_split_a_piece_at_a_time_as_whole(
    tmp_path_factory: pytest.TempPathFactory, text: str, piece: int
) -> None:
    """Read in pieces (cutting documents, records, strings and characters anywhere), a text
    gives the records it gives whole, or is refused when it is refused whole."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        made = _pieces(tmp_path_factory.mktemp("pieces"), text, piece, monkeypatch)
    assert made == _split(text)


def test_an_input_too_large_to_hold_is_split_a_piece_at_a_time_or_read_by_python(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inputs over ``UNPACKED`` are split a piece at a time; one refused after some pieces
    (a trailing comma in its last document, a truncated gzip stream) is undone and read by the
    Python reader from its start: the same output as the reference engine's."""
    records = fixture_lines("aws_cloudtrail")
    documents = "\n".join(
        '{"Records":[' + ",".join(records[i : i + 3]) + "]}" for i in range(0, len(records), 3)
    )
    whole = tmp_path / "large.json"
    whole.write_text(documents)
    packed = tmp_path / "large.json.gz"
    packed.write_bytes(gzip.compress(documents.encode(), mtime=0))
    comma = tmp_path / "comma.json"
    comma.write_text(documents + '\n{"Records":[' + records[0] + ",]}")
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(documents.encode(), mtime=0)[:-40])
    # (Azure records are judged as the Python reader spools them, a blank line for each: the
    # spool must be cut back to where the undone pieces began)
    azure = tmp_path / "azure.json"
    activity = fixture_lines("azure_activitylogs")
    azure.write_text("\n".join('{"records":[' + line + "]}" for line in activity * 4) + "\n,")
    names = [str(whole), str(packed), str(comma), str(cut), str(azure)]
    expected = both(names, engine, fast, tmp_path)
    assert max(len(d) for d in documents.splitlines()) < 20_000 < len(documents)
    monkeypatch.setattr(batch_split, "UNPACKED", 20_000)  # (a document, not the input)
    monkeypatch.setattr(batch_split, "PIECE", 1000)
    monkeypatch.setattr(spool, "AHEAD_UNPACKED", 10_000)
    pieces: list[str] = []
    real = batch_split.split_pieces

    def spy(found: Input, longest: int) -> Iterator[batch_split.Split]:
        yield from real(found, longest)
        pieces.append(Path(found.name).name)

    monkeypatch.setattr(spool, "split_pieces", spy)
    assert both(names, engine, fast, tmp_path) == expected
    assert pieces == ["large.json", "large.json.gz"]
    assert "comma.json: " in expected[2]
    assert "cut.json.gz:" in expected[2]
    assert "azure.json:" in expected[2]


def test_past_the_lines_c_counts_a_large_input_is_left_to_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '{"Records":[{"a":1}]}\n' * 50
    assert _pieces(tmp_path, text, 100, monkeypatch) == _split(text)
    monkeypatch.setattr(batch_split, "_LAST_LINE", 20)
    assert _pieces(tmp_path, text, 100, monkeypatch) is None


def test_a_spool_holding_many_verdicts_is_scanned_before_the_group_goes_on(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``BETWEEN_MOST`` bytes of verdicts waiting for the scan (here: any), the spool is
    scanned and removed, and the group's next inputs go to another: the same hits and bad lines,
    in the same order, as the reference engine's (the documents hold audit events a correlation
    base rule fires on, whose verdicts carry their values)."""
    names = _documents_of(tmp_path)
    monkeypatch.setattr(spool, "BETWEEN_MOST", 0)
    scanned: list[Path] = []
    real = spool.FastInputs._scan

    def spy(self: spool.FastInputs, written: spool._Spool) -> Iterator[Any]:
        scanned.append(written.path)
        yield from real(self, written)

    monkeypatch.setattr(spool.FastInputs, "_scan", spy)
    code, out, _ = both(names, engine, fast, tmp_path)
    assert code == 0
    assert '"record": ' in out
    assert len(scanned) > 3
    assert not any(path.exists() for path in scanned[:-1])
