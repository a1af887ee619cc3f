"""splunk-appinspect runs on the built Splunk app, started in the background.

Each run is a separate process that takes a few seconds of one core and is independent of the
test process, so conftest starts every selected run as soon as the session begins and the
runs go on beside the rest of the suite, on the machine's other core; the test of a run then
only waits for it and reads its report. Output goes to files, never to a pipe nobody reads.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sigma_ext.build.folder import package_version, splunk_package_name

if TYPE_CHECKING:
    from sigma_ext.build.splunk.tuning_modes import TuningMode

    from .conftest import Builds

APPINSPECT = Path(sys.executable).parent / "splunk-appinspect"
TIMEOUT = 300  # seconds, per run


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    report: Path  # the JSON report (--data-format json)


class AppInspectRuns:
    """One ``splunk-appinspect inspect --mode precert`` run per (tuning mode, extra options)."""

    def __init__(self, builds: Builds, folder: Path) -> None:
        self.builds = builds
        self.folder = folder
        self.running: dict[tuple[str, tuple[str, ...]], tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, mode: TuningMode, options: tuple[str, ...]) -> None:
        key = (mode, options)
        if key in self.running:
            return
        folder = self.folder / f"{mode}{''.join(options).replace('-', '_')}"
        folder.mkdir(parents=True)
        package = self.builds[mode] / "splunk" / splunk_package_name(package_version())
        command = [
            str(APPINSPECT),
            "inspect",
            str(package),
            "--mode",
            "precert",
            *options,
            "--skip-trusted-libraries-update",
            "--data-format",
            "json",
            "--output-file",
            str(folder / "appinspect.json"),
        ]
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
            process = subprocess.Popen(
                command, cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        self.running[key] = (process, folder)

    def result(self, mode: TuningMode, options: tuple[str, ...]) -> Finished:
        """The finished run (started now if it was not yet), once it has ended."""
        self.start(mode, options)
        process, folder = self.running[(mode, options)]
        try:
            returncode = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return Finished(
            returncode,
            (folder / "stdout").read_text(encoding="utf-8", errors="replace"),
            (folder / "stderr").read_text(encoding="utf-8", errors="replace"),
            folder / "appinspect.json",
        )

    def close(self) -> None:
        """End every run still going (a session stopped early) and reap it."""
        for process, _ in self.running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
