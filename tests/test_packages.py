"""The Splunk app: layout, conf syntax, one alert per rule, and tuning that stays equivalent.

Every build is checked in each tuning mode (inline, macros, lookups). The equivalence of the
tuned searches with the inline ones is shown on the files a Splunk admin installs: macros.conf
expanded into savedsearches.conf gives back the spl/ searches character for character.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tarfile
import tomllib
from pathlib import Path

import pytest

from sigma_ext.build.folder import build, package_version, splunk_package_name
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk import tuning as splunk_tuning
from sigma_ext.build.splunk.app import APP_ID, SPLUNK_SEVERITY, splunk_stanza_name
from sigma_ext.build.splunk.tuning_modes import TUNING_MODES, TuningMode
from sigma_ext.build.tarball import FIXED_MTIME, deterministic_tgz
from sigma_ext.content.attack import split_tags
from sigma_ext.content.corpus import Corpus, load_corpus
from sigma_ext.content.fixtures import load_cases
from sigma_ext.emulate import splunk_search
from sigma_ext.emulate.documents import DocumentSpecError
from sigma_ext.emulate.verdict import document_for
from sigma_ext.problems import ProblemsFound

from .appinspect_runs import APPINSPECT, AppInspectRuns
from .conftest import ROOT, Builds

Conf = dict[str, dict[str, str]]
MACRO_CALL = re.compile(r"`([A-Za-z0-9_]+)`")
# Settings of savedsearches.conf.spec, macros.conf.spec and transforms.conf.spec this app may use.
KNOWN_SETTINGS = {
    "savedsearches.conf": {
        "alert.digest_mode",
        "alert.expires",
        "alert.severity",
        "alert.suppress",
        "alert.suppress.fields",
        "alert.suppress.period",
        "alert.track",
        "allow_skew",
        "counttype",
        "cron_schedule",
        "description",
        "disabled",
        "dispatch.earliest_time",
        "dispatch.index_earliest",
        "dispatch.index_latest",
        "dispatch.latest_time",
        "enableSched",
        "quantity",
        "realtime_schedule",
        "relation",
        "request.ui_dispatch_app",
        "request.ui_dispatch_view",
        "schedule_window",
        "search",
    },
    "macros.conf": {"args", "definition", "description", "errormsg", "iseval", "validation"},
    "transforms.conf": {"case_sensitive_match", "filename", "match_type", "max_matches"},
    "app.conf": {
        "author",
        "build",
        "check_for_updates",
        "description",
        "id",
        "is_configured",
        "is_visible",
        "label",
        "name",
        "state",
        "version",
    },
    "default.meta": {"access", "export"},
    "fields.conf": {"INDEXED"},
}


# Enterprise Security's correlation-search settings (action.<action>.<parameter> in the core spec).
ES_SETTINGS = {
    "action.correlationsearch.annotations",
    "action.correlationsearch.enabled",
    "action.correlationsearch.label",
    "action.notable",
    "action.notable.param.drilldown_earliest_offset",
    "action.notable.param.drilldown_latest_offset",
    "action.notable.param.drilldown_name",
    "action.notable.param.drilldown_search",
    "action.notable.param.rule_description",
    "action.notable.param.rule_title",
    "action.notable.param.security_domain",
    "action.notable.param.severity",
    "action.risk",
    "action.risk.param._risk",
    "action.risk.param._risk_message",
    "action.risk.param.verbose",
}


def parse_conf(text: str, name: str) -> Conf:
    """A Splunk .conf file, failing on anything but comments, stanzas and one-line settings."""
    stanzas: Conf = {}
    current: dict[str, str] | None = None
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.endswith("\\"):
            problems.append(f"{name}:{number}: line continuation")
        if match := re.fullmatch(r"\[(.*)\]", line):
            if match.group(1) in stanzas:
                problems.append(f"{name}:{number}: duplicate stanza [{match.group(1)}]")
            current = stanzas.setdefault(match.group(1), {})
            continue
        key, sep, value = line.partition(" = ")
        if not sep or current is None or not re.fullmatch(r"[A-Za-z_][\w.]*", key):
            problems.append(f"{name}:{number}: not a setting: {line!r}")
            continue
        if key in current:
            problems.append(f"{name}:{number}: duplicate setting {key}")
        current[key] = value
    assert not problems, "\n".join(problems)
    return stanzas


def app(out: Path) -> Path:
    return out / "splunk" / APP_ID


def conf(out: Path, relative: str) -> Conf:
    path = app(out) / relative
    return parse_conf(path.read_text(encoding="utf-8"), relative)


def inline_query(out: Path, compiled: Compiled) -> str:
    text = (out / "splunk" / "spl" / f"{compiled.output_stem}.spl").read_text()
    return text.splitlines()[1]


@pytest.fixture(scope="module")
def results(compiled: list[Compiled]) -> list[Compiled]:
    return compiled


@pytest.fixture(scope="module")
def splunk(results: list[Compiled]) -> list[Compiled]:
    return [c for c in results if c.target.name == "splunk" and c.query is not None]


@pytest.fixture(scope="module")
def builds(example_builds: Builds) -> dict[str, Path]:
    """The build folder of each tuning mode, and of Enterprise Security mode ("es", with the
    default tuning), made once per run in conftest."""
    folders: dict[str, Path] = {mode: example_builds[mode] for mode in TUNING_MODES}
    folders["es"] = example_builds["es"]
    return folders


@pytest.mark.parametrize("mode", TUNING_MODES)
def test_app_folder_and_package_hold_the_same_files(builds: dict[str, Path], mode: str) -> None:
    out = builds[mode]
    folder = {
        f"{APP_ID}/{p.relative_to(app(out)).as_posix()}": p.read_bytes()
        for p in sorted(app(out).rglob("*"))
        if p.is_file()
    }
    package = out / "splunk" / splunk_package_name(package_version())
    with tarfile.open(package, "r:gz") as tar:
        members = tar.getmembers()
        packed = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in members
            if m.isfile()
        }
    assert packed == folder
    assert {m.name.split("/")[0] for m in members} == {APP_ID}
    expected = {"README.txt", "app.manifest", "default/app.conf", "default/savedsearches.conf"}
    expected |= {"metadata/default.meta", "default/fields.conf"}  # kube:events HEC fields
    if mode != "inline":
        expected |= {"default/macros.conf"}
    if mode == "lookups":
        expected |= {"default/transforms.conf"}
    names = {n.removeprefix(f"{APP_ID}/") for n in folder}
    assert expected <= names
    assert {n for n in names if not n.startswith("lookups/")} == expected


def test_app_identity_and_version_come_from_pyproject(builds: dict[str, Path]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    app_conf = conf(builds["macros"], "default/app.conf")
    assert app_conf["id"] == {"name": APP_ID, "version": version}
    assert app_conf["package"]["id"] == APP_ID
    assert app_conf["launcher"]["version"] == version
    assert app_conf["install"]["is_configured"] == "false"
    manifest = json.loads((app(builds["macros"]) / "app.manifest").read_text())
    assert manifest["info"]["id"] == {"group": None, "name": APP_ID, "version": version}
    assert manifest["targetWorkloads"] == ["_search_heads"]
    meta = conf(builds["macros"], "metadata/default.meta")
    assert meta[""] == {"access": "read : [ * ], write : [ admin, sc_admin ]", "export": "system"}
    assert splunk_package_name(package_version()) == f"{APP_ID}-{version}.tgz"


@pytest.mark.parametrize("mode", [*TUNING_MODES, "es"])
def test_conf_files_use_known_settings_only(builds: dict[str, Path], mode: str) -> None:
    unknown = []
    for path in sorted(app(builds[mode]).rglob("*")):
        if path.suffix not in (".conf", ".meta"):
            continue
        known = KNOWN_SETTINGS[path.name]
        if mode == "es" and path.name == "savedsearches.conf":
            known = known | ES_SETTINGS
        for stanza, settings in parse_conf(path.read_text(), path.name).items():
            unknown += [f"{path.name} [{stanza}] {key}" for key in settings if key not in known]
    assert unknown == []


@pytest.mark.parametrize("mode", TUNING_MODES)
def test_one_disabled_scheduled_alert_per_rule_and_source(
    builds: dict[str, Path], splunk: list[Compiled], mode: str, corpus: Corpus
) -> None:
    searches = conf(builds[mode], "default/savedsearches.conf")
    gaps = {name for name in searches if name.startswith("sigma-ext - Telemetry Gap - ")}
    assert gaps  # tests/test_gap_alerts.py checks them
    correlations = {n for n, s in searches.items() if "Sigma correlation rule" in s["description"]}
    assert correlations  # tests/test_packages_correlations.py checks them
    assert set(searches) - gaps - correlations == {splunk_stanza_name(c) for c in splunk}
    for compiled in splunk:
        settings = searches[splunk_stanza_name(compiled)]
        rule = compiled.rule
        assert settings["disabled"] == "1"
        assert settings["enableSched"] == "1"
        assert settings["cron_schedule"] == "*/5 * * * *"
        # index-time slices of five minutes that tile, read by continuous scheduling
        assert (settings["dispatch.index_earliest"], settings["dispatch.index_latest"]) == (
            "-6m@m",
            "-1m@m",
        )
        assert (settings["dispatch.earliest_time"], settings["dispatch.latest_time"]) == (
            "-24h",
            "+15m",
        )
        assert settings["realtime_schedule"] == "0"
        assert settings["allow_skew"] == "3m"
        # one alert per result, throttled per creator and object for the profile's period
        assert settings["alert.digest_mode"] == "0"
        assert settings["alert.suppress"] == "1"
        assert settings["alert.suppress.period"] == corpus.profile.throttle_period(rule.theme)
        table = compiled.query.rpartition(" | table ")[2].split(", ") if compiled.query else []
        suppress_by = settings["alert.suppress.fields"].split(",")
        assert 2 <= len(suppress_by) <= 3
        assert set(suppress_by) <= set(table), "throttled by fields of the triage table"
        assert settings["alert.severity"] == str(SPLUNK_SEVERITY[rule.level])
        assert settings["alert.track"] == ("0" if rule.theme == "visibility" else "1")
        assert (settings["counttype"], settings["relation"], settings["quantity"]) == (
            "number of events",
            "greater than",
            "0",
        )
        assert f"Sigma rule {rule.id}" in settings["description"]
        assert settings["request.ui_dispatch_app"] == "search", "the app itself has no views"
        if mode == "inline":
            assert settings["search"] == compiled.query


def expand(text: str, macros: Conf) -> str:
    return MACRO_CALL.sub(lambda m: macros[m.group(1)]["definition"], text)


@pytest.mark.parametrize("mode", ["macros", "lookups"])
def test_every_search_ends_in_its_own_filter_macro(
    builds: dict[str, Path], splunk: list[Compiled], mode: str
) -> None:
    searches = conf(builds[mode], "default/savedsearches.conf")
    macros = conf(builds[mode], "default/macros.conf")
    filters = set()
    for compiled in splunk:
        search = searches[splunk_stanza_name(compiled)]["search"]
        name = MACRO_CALL.findall(search)[-1]
        assert search.endswith(f" | `{name}`")
        assert name.endswith("_filter")
        assert macros[name]["definition"] == "search *"
        filters.add(name)
    assert len(filters) == len(splunk)


def test_macros_expand_to_the_inline_searches(
    builds: dict[str, Path], splunk: list[Compiled]
) -> None:
    """macros.conf, expanded into each saved search, gives the inline search exactly."""
    out = builds["macros"]
    searches = conf(out, "default/savedsearches.conf")
    macros = conf(out, "default/macros.conf")
    used: set[str] = set()
    mismatches = []
    for compiled in splunk:
        search = searches[splunk_stanza_name(compiled)]["search"]
        body, _, _ = search.rpartition(" | ")
        used |= set(MACRO_CALL.findall(search))
        if expand(body, macros) != inline_query(out, compiled) or inline_query(
            out, compiled
        ) != str(compiled.query):
            mismatches.append(compiled.output_stem)
    assert mismatches == []
    # the correlation searches use the same macros (tests/test_packages_correlations.py)
    for settings in searches.values():
        if "Sigma correlation rule" in settings["description"]:
            used |= set(MACRO_CALL.findall(settings["search"]))
    assert used == set(macros), "every macro is used, every used macro is defined"


def test_tuning_values_live_in_macros_not_in_searches(
    builds: dict[str, Path], splunk: list[Compiled], corpus: Corpus
) -> None:
    searches = conf(builds["macros"], "default/savedsearches.conf")
    macros = conf(builds["macros"], "default/macros.conf")
    leaks = []
    for compiled in splunk:
        search = searches[splunk_stanza_name(compiled)]["search"]
        for name in sorted(compiled.rule.placeholders()):
            calls = [m for m in MACRO_CALL.findall(search) if m.startswith(f"sigma_ext_{name}")]
            if not calls:
                leaks.append(f"{compiled.output_stem}: no macro for {name}")
            leaks += [
                f"{compiled.output_stem}: {entry!r} written into the search"
                for entry in corpus.profile.lists[name]
                if f'"{entry}"' in search
            ]
        mapping = corpus.mapping("splunk", compiled.source).data["transformations"]
        if any(item.get("type") == "add_condition" for item in mapping):
            source_macro = f"sigma_ext_{compiled.source.name}"
            assert f"`{source_macro}`" in search, compiled.output_stem
            assert macros[source_macro]["definition"].startswith("sourcetype=")
    assert leaks == []


def test_lookups_build_runs_the_same_searches_as_macros(builds: dict[str, Path]) -> None:
    """Only macro definitions differ between the two modes; searches are identical."""
    assert conf(builds["lookups"], "default/savedsearches.conf") == conf(
        builds["macros"], "default/savedsearches.conf"
    )
    assert set(conf(builds["lookups"], "default/macros.conf")) == set(
        conf(builds["macros"], "default/macros.conf")
    )


def test_lookups_hold_the_identity_lists_for_the_inline_field(
    builds: dict[str, Path], corpus: Corpus
) -> None:
    inline = conf(builds["macros"], "default/macros.conf")
    macros = conf(builds["lookups"], "default/macros.conf")
    transforms = conf(builds["lookups"], "default/transforms.conf")
    subsearch = re.compile(r"\[\| inputlookup (\w+) \| rename identity AS (\S+) \| fields (\S+)\]")
    lookups_used = set()
    for name, settings in macros.items():
        if settings["definition"] == inline[name]["definition"]:
            continue  # registry regex, source, filter: the same macro in both modes
        match = subsearch.fullmatch(settings["definition"])
        assert match, name
        lookup, field, kept = match.groups()
        assert field == kept
        # the inline definition compares the same field with the list's entries
        list_name = lookup.removeprefix("sigma_ext_")
        entries = corpus.profile.lists[list_name]
        assert corpus.profile.kind(list_name) == "identity"
        values = ", ".join(f'"{e}"' for e in entries or ("",))
        assert inline[name]["definition"] in (f"{field}={values}", f"{field} IN ({values})")
        lookups_used.add(lookup)
    assert set(transforms) == lookups_used
    assert lookups_used == {
        f"sigma_ext_{n}" for n in corpus.profile.lists if corpus.profile.kind(n) == "identity"
    } & {f"sigma_ext_{n}" for r in corpus.rules for n in r.placeholders()}
    for lookup, settings in transforms.items():
        assert settings == {
            "filename": f"{lookup}.csv",
            "case_sensitive_match": "false",
            "match_type": "WILDCARD(identity)",
        }
        rows = list(
            csv.reader(
                io.StringIO((app(builds["lookups"]) / "lookups" / settings["filename"]).read_text())
            )
        )
        assert rows == [["identity"]] + [
            [e] for e in corpus.profile.lists[lookup.removeprefix("sigma_ext_")]
        ]


def splunk_format(rows: list[str], field: str) -> str:
    """What Splunk's format command makes of a one-column subsearch result (its defaults:
    rows in parentheses joined by OR, each value quoted), with the field as the search writes it.
    """
    values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in rows]
    return "( " + " OR ".join(f'( {field}="{v}" )' for v in values) + " )"


def test_lookup_searches_give_the_inline_verdict_on_every_fixture_event(
    builds: dict[str, Path], splunk: list[Compiled], corpus: Corpus
) -> None:
    """The lookups build's searches, with each subsearch replaced by the search terms Splunk's
    format command makes of the CSV rows, run by the Splunk search emulator on every fixture
    event's Splunk document: the same verdict as the inline search, event by event."""
    out = builds["lookups"]
    macros = conf(out, "default/macros.conf")
    searches = conf(out, "default/savedsearches.conf")
    subsearch = re.compile(r"\[\| inputlookup (\w+) \| rename identity AS (\S+) \| fields \S+\]")

    def as_run(definition: str) -> str:
        match = subsearch.fullmatch(definition)
        if match is None:
            return definition
        lookup, field = match.groups()
        rows = (app(out) / "lookups" / f"{lookup}.csv").read_text().splitlines()[1:]
        return splunk_format(rows, field)

    cases = load_cases(ROOT / "fixtures", [r.stem for r in corpus.rules])
    differences, compared, changed = [], 0, 0
    for compiled in splunk:
        body = searches[splunk_stanza_name(compiled)]["search"].rpartition(" | ")[0]
        looked_up = MACRO_CALL.sub(lambda m: as_run(macros[m.group(1)]["definition"]), body)
        changed += looked_up != compiled.query
        for case in cases:
            if case.source != compiled.source.name:
                continue
            try:
                document = document_for(compiled, case.event)
            except DocumentSpecError:
                continue  # test_compiled_queries requires a document spec per source
            compared += 1
            if splunk_search.matches(looked_up, document) != splunk_search.matches(
                str(compiled.query), document
            ):
                differences.append(f"{compiled.output_stem}: {case.where} {case.name}")
    assert differences == []
    assert compared > 100
    assert changed >= 3, "searches whose identity lists come from lookups"


def test_registry_lists_stay_macros_in_lookups_mode(builds: dict[str, Path]) -> None:
    macros = conf(builds["lookups"], "default/macros.conf")
    registry = macros["sigma_ext_approved_registries_regex"]["definition"]
    assert registry.startswith('"')
    assert registry.endswith('"')
    assert (
        registry
        == conf(builds["macros"], "default/macros.conf")["sigma_ext_approved_registries_regex"][
            "definition"
        ]
    )
    assert not list((app(builds["lookups"]) / "lookups").glob("*registr*"))


def test_inline_mode_ships_no_macros(builds: dict[str, Path]) -> None:
    assert not (app(builds["inline"]) / "default" / "macros.conf").exists()
    assert not (app(builds["inline"]) / "lookups").exists()
    searches = conf(builds["inline"], "default/savedsearches.conf")
    assert not [name for name, s in searches.items() if "`" in s["search"]]


@pytest.mark.parametrize("mode", ["macros", "lookups"])
def test_empty_and_globbing_lists_expand_to_the_inline_searches(
    mode: TuningMode, tmp_path: Path
) -> None:
    """An empty list and a list mixing globs with exact names, in every mode (a build each: a
    test per mode, which two workers share)."""
    profile = (ROOT / "profiles" / "example.yml").read_text()
    profile = profile.replace(
        "k8s_authorized_creators:\n  - breakglass-admin@corp.example\n",
        "k8s_authorized_creators: []\n",
    ).replace(
        "  - system:serviceaccount:gitlab-runner:deployer\n",
        "  - system:serviceaccount:gitlab-runner:deployer\n  - system:serviceaccount:ci-*:deployer\n",
    )
    assert "k8s_authorized_creators: []" in profile
    assert "ci-*" in profile
    path = tmp_path / "profile.yml"
    path.write_text(profile)
    corpus = load_corpus(ROOT, path)
    made = build(corpus, tmp_path / mode, mode)  # compile_all(corpus), then the build
    out = made.out
    macros = conf(out, "default/macros.conf")
    searches = conf(out, "default/savedsearches.conf")
    for compiled in made.results:
        if compiled.target.name != "splunk" or compiled.query is None:
            continue
        body = searches[splunk_stanza_name(compiled)]["search"].rpartition(" | ")[0]
        if mode == "macros":
            assert expand(body, macros) == compiled.query
    if mode == "macros":
        assert macros["sigma_ext_k8s_authorized_creators"]["definition"] == 'user.username=""'
        assert (
            '"system:serviceaccount:ci-*:deployer"'
            in macros["sigma_ext_k8s_pipeline_identities"]["definition"]
        )
    else:
        csv_path = app(out) / "lookups" / "sigma_ext_k8s_authorized_creators.csv"
        assert csv_path.read_text() == "identity\n"
        pipeline = app(out) / "lookups" / "sigma_ext_k8s_pipeline_identities.csv"
        assert "system:serviceaccount:ci-*:deployer" in pipeline.read_text().splitlines()


def test_a_search_that_does_not_expand_back_fails_the_build(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splunk_tuning, "expand_macros", lambda text, macros: text)
    with pytest.raises(ProblemsFound) as raised:
        build(corpus, tmp_path / "out", "macros")
    assert any("does not expand to the inline search" in str(p) for p in raised.value.problems)
    assert not (tmp_path / "out").exists()


def test_package_bytes_do_not_depend_on_time_or_owner() -> None:
    files = {"app/b.txt": b"b\n", "app/a/c.txt": b"c\n"}
    packed = deterministic_tgz(files)
    assert packed == deterministic_tgz(dict(reversed(files.items())))
    assert packed[4:8] == b"\0\0\0\0", "gzip header mtime is zero"
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["app", "app/a", "app/a/c.txt", "app/b.txt"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {
        (FIXED_MTIME, 0, 0, "", "")
    }
    assert [oct(m.mode) for m in members] == ["0o755", "0o755", "0o644", "0o644"]


@pytest.mark.appinspect
@pytest.mark.parametrize(
    ("mode", "tags"),
    [
        ("macros", []),
        ("macros", ["--included-tags", "cloud"]),
        ("lookups", []),
        ("inline", []),
        ("es", []),
        ("es", ["--included-tags", "cloud"]),
    ],
)
def test_splunk_appinspect_finds_no_error_failure_or_warning(
    appinspect_runs: AppInspectRuns, mode: TuningMode, tags: list[str]
) -> None:
    """splunk-appinspect (dev extra, installed by .ci/run), offline, in precert mode; the run
    started in the background when the session began (tests/appinspect_runs.py)."""
    if not APPINSPECT.exists():
        pytest.fail("splunk-appinspect is missing: install the dev extra (pip install -e '.[dev]')")
    run = appinspect_runs.result(mode, tuple(tags))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Checking for an update of trusted libraries" not in run.stdout
    (result,) = json.loads(run.report.read_text())["reports"]
    findings = [
        f"{check['result']}: {check['name']}: {[m.get('message') for m in check['messages']]}"
        for group in result["groups"]
        for check in group["checks"]
        if check["result"] in ("error", "failure", "warning", "future_failure", "skipped")
    ]
    summary = result["summary"]
    assert (summary["error"], summary["failure"], summary["warning"]) == (0, 0, 0), findings
    assert findings == []
    assert summary["success"] > 50


def test_enterprise_security_mode_adds_correlation_notable_and_risk(
    builds: dict[str, Path], splunk: list[Compiled], corpus: Corpus
) -> None:
    """The ES build's stanzas are the macros build's plus ES settings: ATT&CK annotations from
    the tags, risk on the triage table's creator and cluster or account, a notable (with a
    drill-down narrowed to the creator) for every rule but the visibility ones; and the
    drill-down, with the tokens of an alert's row, finds that alert's event again."""
    plain = conf(builds["macros"], "default/savedsearches.conf")
    es = conf(builds["es"], "default/savedsearches.conf")
    macros = conf(builds["es"], "default/macros.conf")
    cases = load_cases(ROOT / "fixtures", [r.stem for r in corpus.rules])
    drilled = 0
    for compiled in splunk:
        name = splunk_stanza_name(compiled)
        settings = es[name]
        assert {k: v for k, v in settings.items() if k not in ES_SETTINGS} == plain[name]
        annotations = json.loads(settings["action.correlationsearch.annotations"])
        _, techniques = split_tags([str(t) for t in compiled.rule.data["tags"]])
        assert annotations == {"mitre_attack": techniques}
        assert settings["action.correlationsearch.label"] == name
        table = str(compiled.query).rpartition(" | table ")[2].split(", ")
        risk = json.loads(settings["action.risk.param._risk"])
        objects = [r["risk_object_field"] for r in risk if "risk_object_field" in r]
        assert objects
        assert set(objects) <= set(table) & {"user", "dest", "vendor_account"}
        if "user" in table:
            assert "user" in objects
        visibility = compiled.rule.theme == "visibility"
        assert ("action.notable" in settings) == (not visibility)
        if visibility:
            continue
        drilldown = settings["action.notable.param.drilldown_search"]
        assert drilldown.startswith(settings["search"] + " | search ")
        entity = re.fullmatch(r'.* \| search (\w+)="\$\1\$"', drilldown)
        assert entity is not None
        # the filter macros ('search *') are left out: the emulator has no bare keyword search
        runnable = expand(re.sub(r" \| `\w+_filter`", "", drilldown), macros)
        search = expand(re.sub(r" \| `\w+_filter`", "", settings["search"]), macros)
        for case in cases:
            if case.source != compiled.source.name or compiled.rule.stem not in case.fires:
                continue
            document = document_for(compiled, case.event)
            row = splunk_search.run(search, document)
            if row is None or entity.group(1) not in row:
                continue
            value = row[entity.group(1)][0]
            assert splunk_search.matches(runnable.replace(f"${entity.group(1)}$", value), document)
            drilled += 1
            break
    assert drilled >= 10
