"""SigmaHQ's validators (pysigma-validators-sigmahq) and pySigma's own on the rules, offline.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -c constraints.txt \\
        pysigma-validators-sigmahq==0.21.0 -e .
    /tmp/v/bin/python tools/sigmahq_check.py

MITRE ATT&CK data comes from sigma_ext/data/attack.json instead of a download; the validators
that download SigmaHQ's taxonomy and field lists cannot run offline and are listed as skipped.
Expected: only sigmahq_unknown_field, for the custom attributes (docs/extensions.md).
"""

import collections
import json
from pathlib import Path

import sigma.data.mitre_attack as mitre
from sigma.collection import SigmaCollection
from sigma.plugins import InstalledSigmaPlugins

attack = json.loads(Path("sigma_ext/data/attack.json").read_text(encoding="utf-8"))
techniques = attack["techniques"]
mitre.mitre_attack_techniques_tactics_mapping = {k: v["tactics"] for k, v in techniques.items()}
mitre.mitre_attack_tactics = {v["id"]: k for k, v in attack["tactics"].items()}
mitre.mitre_attack_techniques = {k: v["name"] for k, v in techniques.items()}
for extra in ("intrusion_sets", "software", "datasources", "mitigations"):
    setattr(mitre, f"mitre_attack_{extra}", {})
NETWORK = {
    "d3_fendtag",
    "sigmahq_category_event_id",
    "sigmahq_category_windows_provider_name",
    "sigmahq_fieldname_cast",
    "sigmahq_filename_prefix",
    "sigmahq_invalid_fieldname",
    "sigmahq_logsource_unknown",
    "sigmahq_redundant_field",
    "sigmahq_sysmon_missing_eventid",
}
validators = InstalledSigmaPlugins.autodiscover().validators
paths = sorted(Path("rules").rglob("*.yml"))
rules = SigmaCollection.load_ruleset([str(p) for p in paths])
issues: collections.Counter[str] = collections.Counter()
ran = []
for name, validator_class in sorted(validators.items()):
    if name in NETWORK:
        continue
    validator = validator_class()
    found = [i for r in rules for i in validator.validate(r)] + list(validator.finalize())
    ran.append(name)
    for issue in found:
        issues[name] += 1
        where = [r.source.path.name for r in issue.rules if r.source is not None]
        detail = {k: v for k, v in vars(issue).items() if k not in ("rules", "severity")}
        print(f"  {name}: {where} {detail}")
skipped = sorted(NETWORK & set(validators))
print(f"{len(paths)} rules, {len(ran)} validators, skipped offline: {skipped}")
print("issues per validator:", dict(issues) or "none")
