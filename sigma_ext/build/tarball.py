"""Reproducible .tgz packages: same files in, same bytes out.

Entries are sorted, every directory is listed before its contents, and the metadata that
would otherwise vary between machines and runs is fixed: modification time, owner, group and
permissions inside the tar, and the timestamp and file name of the gzip header.
"""

from __future__ import annotations

import gzip
import io
import tarfile

# 1980-01-01T00:00:00Z, the epoch reproducible-build tools use when no date is given.
FIXED_MTIME = 315532800


def _entry(name: str, *, directory: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def deterministic_tgz(files: dict[str, bytes]) -> bytes:
    """A gzip-compressed tar of ``files`` (relative POSIX path -> content)."""
    directories = sorted(
        {
            "/".join(path.split("/")[:depth])
            for path in files
            for depth in range(1, path.count("/") + 1)
        }
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted([*directories, *files]):
            if name in files:
                content = files[name]
                tar.addfile(_entry(name, directory=False, size=len(content)), io.BytesIO(content))
            else:
                tar.addfile(_entry(name, directory=True))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()
