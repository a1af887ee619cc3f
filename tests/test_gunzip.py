"""Gzip inputs unpacked by ISA-L (``sigma_ext.hunt.inputs``, ``sigma_ext.hunt.batch_split``) read
as zlib reads them: every member, the same problems, and before a break at least the bytes zlib
gave (it drops the piece it was unpacking when it meets the damage; ISA-L hands it on, then
raises).

zlib is the reference: the streaming reader these inputs had before ISA-L, in 16 KiB pieces,
is rebuilt here from the standard library and given the same files: whole ones of one or
several members, truncated ones, ones followed by junk or zero padding, and ones with a byte
flipped anywhere (in the header, the deflate data or the trailer).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.batch_split import _gunzipped
from sigma_ext.hunt.inputs import GZIP_MAGIC, Input, open_content

from .conftest import fixture_lines


def zlib_read(data: bytes) -> tuple[bytes, str | None]:
    """What a zlib reader of every member gets, and how it stops (None: at the end, whole)."""
    out: list[bytes] = []
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while not member.eof:
                out.append(member.decompress(data, 1 << 14))
                data = member.unconsumed_tail
                if not data and not member.eof:
                    return b"".join(out), "truncated"
        except zlib.error:
            return b"".join(out), "corrupt"
        data = member.unused_data
        if data and not data.startswith(GZIP_MAGIC):
            return b"".join(out), "junk" if data.strip(b"\0") else None
    return b"".join(out), None


def same_to_the_break(got: bytes, expected: bytes) -> bool:
    """Whether a truncated file gave what zlib gives, but for the last symbol before the break:
    each decoder holds back (or hands on) a few bytes it decoded there (one deflate match, 258
    bytes at most; over 6,423 cuts of a 4.5 MB body, ISA-L gave 1 byte less to 242 more)."""
    shared = min(len(got), len(expected))
    return got[:shared] == expected[:shared] and abs(len(got) - len(expected)) <= 258


def read(tmp_path: Path, data: bytes) -> tuple[bytes, list[str]]:
    path = tmp_path / "input.gz"
    path.write_bytes(data)
    problems: list[str] = []
    with open_content(Input(str(path), path, gzip=True), problems) as handle:
        return handle.read(), problems


KINDS = {"truncated": "truncated gzip", "corrupt": "corrupt gzip data", "junk": "after the end"}
BREAKS = {"truncated", "corrupt"}

lines = st.lists(
    st.builds(
        lambda n, word: f'{{"n": {n}, "word": "{word}"}}\n'.encode(),
        st.integers(0, 10**6),
        st.sampled_from(["kubectl", "runc", "containerd", "x" * 300]),
    ),
    min_size=1,
    max_size=400,
)


@st.composite
def gzip_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A gzip file's bytes, and what was done to them."""
    members = draw(st.lists(lines, min_size=1, max_size=3))
    data = b"".join(gzip.compress(b"".join(m), mtime=0) for m in members)
    damage = draw(st.sampled_from(["none", "truncate", "junk", "padding", "flip"]))
    if damage == "truncate":
        data = data[: draw(st.integers(1, len(data) - 1))]
    elif damage == "junk":
        data += draw(st.binary(min_size=1, max_size=40).filter(lambda b: b.strip(b"\0")))
    elif damage == "padding":
        data += b"\0" * draw(st.integers(1, 512))
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return data, damage


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(gzip_files())
def test_isal_reads_every_gzip_file_as_zlib_does(tmp_path: Path, made: tuple[bytes, str]) -> None:
    data, _ = made
    if data[:2] != GZIP_MAGIC:
        return  # (a flipped magic byte: not a gzip input at all, so not read as one)
    expected, stop = zlib_read(data)
    got, problems = read(tmp_path, data)
    if stop is None:
        assert got == expected
        assert problems == []
    elif stop == "truncated":
        assert same_to_the_break(got, expected)
    else:
        # before damage, at least what zlib read: zlib drops the piece it was unpacking when
        # it finds the damage (up to 16 KiB of good records), ISA-L hands it on first
        assert got.startswith(expected)
        assert len(problems) == 1, problems
        # a damaged member header (reserved flag bits set): zlib calls it corrupt, ISA-L reads
        # on for the name the flags promise and calls the file truncated; both stop there
        said = BREAKS if stop in BREAKS else {stop}
        assert any(KINDS[kind] in problems[0] for kind in said), (stop, problems)


@settings(max_examples=300, deadline=None)
@given(gzip_files())
def test_the_whole_file_unpack_of_the_c_split_takes_only_what_zlib_reads_whole(
    made: tuple[bytes, str],
) -> None:
    data, damage = made
    expected, stop = zlib_read(data)
    whole = _gunzipped(data, 64 << 20)
    if stop is not None or damage == "padding":
        assert whole is None  # the streaming reader reads it, and says what it found
    else:
        assert whole == expected


def test_a_truncated_file_gives_every_byte_zlib_gives(tmp_path: Path) -> None:
    """A file cut anywhere (a shipper stopped mid-upload): ISA-L holds back what it unpacked last
    until told the input ended (up to 37 KiB here, 16 records), and the reader asks for it; 200
    KiB of CloudTrail records, as an S3 file holds them, cut at 40 places."""
    records = fixture_lines("aws_cloudtrail")
    body = '{"Records":[' + ",".join(records * (200_000 // len("".join(records)) + 1)) + "]}"
    packed = gzip.compress(body.encode(), mtime=0)
    for cut in range(len(packed) // 41, len(packed), len(packed) // 41):
        data = packed[:cut]
        expected, stop = zlib_read(data)
        got, problems = read(tmp_path, data)
        assert stop == "truncated"
        assert len(expected) > 0
        assert same_to_the_break(got, expected), cut
        assert len(problems) == 1
        assert "truncated gzip" in problems[0]
