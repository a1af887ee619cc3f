"""``--out`` is written safely: never a folder that is not a build, never a moment without one,
builds take turns, and modes follow the umask."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from sigma_ext.build import folder
from sigma_ext.build.folder import BUILD_MARKER, OutputRefused, check_output, write_atomically
from sigma_ext.cli.main import main

from .conftest import ROOT


def files_in(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


def test_a_new_build_is_marked_and_replaces_only_a_build(tmp_path: Path) -> None:
    out = tmp_path / "build"
    write_atomically(out, {"a/one.txt": "1\n"})
    assert files_in(out) == {BUILD_MARKER: folder.MARKER_TEXT, "a/one.txt": "1\n"}
    write_atomically(out, {"two.txt": "2\n"})
    assert files_in(out) == {BUILD_MARKER: folder.MARKER_TEXT, "two.txt": "2\n"}
    assert siblings(out) == ["build"]


def test_an_empty_folder_is_written(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    write_atomically(out, {"a.txt": "a\n"})
    assert "a.txt" in files_in(out)


def test_a_build_from_before_the_marker_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "build"
    (out / "splunk").mkdir(parents=True)
    (out / "summary.json").write_text("[]\n")
    (out / "summary.md").write_text("#\n")
    write_atomically(out, {"a.txt": "a\n"})
    assert set(files_in(out)) == {BUILD_MARKER, "a.txt"}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_text("notes\n"), id="a file"),
        pytest.param(
            lambda p: (p.mkdir(), (p / "README.md").write_text("mine\n")), id="a project folder"
        ),
        pytest.param(
            lambda p: (p.mkdir(), (p / "summary.json").write_text("[]"), (p / "x").write_text("")),
            id="a build folder holding something else too",
        ),
    ],
)
def test_anything_else_is_refused_and_left_alone(tmp_path: Path, make: object) -> None:
    out = tmp_path / "out"
    make(out)  # type: ignore[operator]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(OutputRefused, match="refusing to write the build: "):
        write_atomically(out, {"a.txt": "a\n"})
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_build_out_dot_refuses_and_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("my work\n")
    (project / "notes.txt").write_text("notes\n")
    monkeypatch.chdir(project)
    for out in (".", "notes.txt"):
        code = main(["build", "--root", str(ROOT), "--out", out])
        err = capsys.readouterr().err
        assert code == 3
        assert len(err.splitlines()) == 1, err
        assert err.startswith("sigma-ext: refusing to write the build: ")
    assert sorted(p.name for p in project.iterdir()) == ["README.md", "notes.txt"]
    assert (project / "notes.txt").read_text() == "notes\n"


def test_there_is_no_moment_without_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap is one exchange: killed just before it, the old build stands; just after it,
    the new one does. Either way the next build cleans up what the killed one left."""
    out = tmp_path / "build"
    write_atomically(out, {"old.txt": "old\n"})
    seen: list[set[str]] = []
    real_exchange = folder._exchange

    def exchange_and_look(first: Path, second: Path) -> bool:
        seen.append(set(files_in(out)))
        done = real_exchange(first, second)
        seen.append(set(files_in(out)))
        raise KeyboardInterrupt if done else AssertionError("no exchange on this file system")

    monkeypatch.setattr(folder, "_exchange", exchange_and_look)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, {"new.txt": "new\n"})
    assert seen == [{BUILD_MARKER, "old.txt"}, {BUILD_MARKER, "new.txt"}]
    assert set(files_in(out)) == {BUILD_MARKER, "new.txt"}


def test_a_killed_two_rename_swap_is_put_right_by_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system has no exchange, a build killed between its two renames leaves the
    previous build aside; the next build puts it back before anything else."""
    out = tmp_path / "build"
    write_atomically(out, {"old.txt": "old\n"})
    monkeypatch.setattr(folder, "_exchange", lambda first, second: False)
    real_replace = Path.replace

    def killed_after_first_rename(self: Path, target: Path) -> Path:
        moved = real_replace(self, target)
        if ".old-" in Path(target).name:
            raise KeyboardInterrupt
        return moved

    monkeypatch.setattr(Path, "replace", killed_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, {"new.txt": "new\n"})
    monkeypatch.setattr(Path, "replace", real_replace)
    assert not out.exists()
    folder._recover(out.resolve())
    assert set(files_in(out)) == {BUILD_MARKER, "old.txt"}
    write_atomically(out, {"new.txt": "new\n"})
    assert set(files_in(out)) == {BUILD_MARKER, "new.txt"}
    assert siblings(out) == ["build"]


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "build"
    write_atomically(out, {"a.txt": "a\n"})
    stale = tmp_path / ".build.new-1-00000000"
    stale.mkdir()
    (stale / BUILD_MARKER).write_text("")
    foreign = tmp_path / ".build.new-mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not a build\n")
    write_atomically(out, {"b.txt": "b\n"})
    assert siblings(out) == [".build.new-mine", "build"]


def test_concurrent_builds_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "build"
    errors: list[BaseException] = []

    def builder(name: str) -> None:
        try:
            for number in range(8):
                write_atomically(out, {f"{name}.txt": f"{number}\n", "shared/x.txt": name})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=builder, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert siblings(out) == ["build"]
    assert len(files_in(out)) == 3  # marker, one builder's file and the shared one


def test_modes_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        out = tmp_path / "build"
        write_atomically(out, {"sub/a.txt": "a\n"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "sub").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "sub" / "a.txt").stat().st_mode) == 0o640


def test_an_unwritable_output_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x\n")
    code = main(["build", "--root", str(ROOT), "--out", str(blocker / "build")])
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"sigma-ext: cannot write the build to {blocker / 'build'}: ")


def test_a_permission_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(out: Path, kind: str) -> Path:
        raise PermissionError(13, "Permission denied", str(out.parent))

    monkeypatch.setattr(folder, "_new_sibling", denied)
    code = main(["build", "--root", str(ROOT), "--out", str(tmp_path / "build")])
    err = capsys.readouterr().err
    assert code == 3
    assert err == (
        f"sigma-ext: cannot write the build to {tmp_path / 'build'}: {tmp_path}: "
        "Permission denied\n"
    )


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code = main(["build", "--root", str(ROOT), "--out", str(locked / "build")])
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.splitlines()) == 1, err
    assert "Permission denied" in err


def test_check_output_accepts_what_may_be_replaced(tmp_path: Path) -> None:
    check_output(tmp_path / "absent")
    with pytest.raises(OutputRefused, match="not a previous build"):
        check_output(ROOT)
