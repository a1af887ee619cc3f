"""Splunk Enterprise Security mode (``sigma-ext build --splunk-es``): each saved search is also a
correlation search, with a notable event, risk and MITRE ATT&CK annotations.

The settings are those Enterprise Security reads from ``savedsearches.conf`` (they fit the core
spec's ``action.<action_name>.<parameter>`` pattern, so the app stays valid without ES):

* ``action.correlationsearch.*``: enabled, label, and ``annotations`` (JSON) with the rule's
  ATT&CK technique ids under ``mitre_attack``, as ES's MITRE ATT&CK framework panels read them;
* ``action.notable`` and ``action.notable.param.*``: rule title and description (with ``$field$``
  tokens from the triage table), severity, security domain, and a drill-down search that reruns
  the rule's search for the alert's creator (or host) over the alert's time range;
* ``action.risk`` and ``action.risk.param._risk`` (JSON): the creator identity (``user``, type
  user) and the cluster, host or account (``dest``, type system; ``vendor_account``, type other)
  as risk objects, the caller's address (``src``) as a threat object, with a score per level.

Visibility rules (informational) record risk only: no notable, so coverage feeds risk-based
alerting without paging anyone.
"""

from __future__ import annotations

import json

from sigma_ext.build.correlation_package import PackagedCorrelation, group_fields
from sigma_ext.build.quoting import conf_text
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.triage import TRIAGE
from sigma_ext.content.attack import split_tags

# Risk score per Sigma level (ESCU scores are impact x confidence / 100, 0 to 100).
RISK_SCORE = {"informational": 10, "low": 25, "medium": 50, "high": 75, "critical": 100}
# ES security domain per theme.
SECURITY_DOMAIN = {
    "unauthorized-creator": "access",
    "unusual-registry": "threat",
    "off-pipeline": "audit",
    "risky-spec": "threat",
    "visibility": "audit",
}
# Triage columns that are risk objects, with ES's risk object type.
RISK_OBJECTS = (("user", "user"), ("dest", "system"), ("vendor_account", "other"))


def _columns(compiled: Compiled) -> set[str]:
    triage = TRIAGE[compiled.source.name]
    images = ["image"] if triage.images or compiled.rule.every_element else []
    return {*triage.columns, *triage.extracted(), *images}


def _drilldown(compiled: Compiled, search: str) -> tuple[str, str]:
    """The drill-down name and search: the rule's search narrowed to the alert's entity."""
    columns = _columns(compiled)
    entity = "user" if "user" in columns else "dest" if "dest" in columns else "object"
    return (
        f"Events of this rule for {entity} $" + entity + "$",
        f'{search} | search {entity}="${entity}$"',
    )


def _risk_settings(
    techniques: list[str], stanza: str, risk: list[dict[str, object]], message: str
) -> dict[str, str]:
    """A correlation search's ATT&CK annotations and risk action, a rule's or a correlation's."""
    return {
        "action.correlationsearch.annotations": json.dumps(
            {"mitre_attack": techniques}, sort_keys=True
        ),
        "action.correlationsearch.enabled": "1",
        "action.correlationsearch.label": stanza,
        "action.risk": "1",
        "action.risk.param._risk": json.dumps(risk, sort_keys=True),
        "action.risk.param._risk_message": message,
        "action.risk.param.verbose": "0",
    }


def es_settings(compiled: Compiled, search: str, stanza: str) -> dict[str, str]:
    """The Enterprise Security settings of one saved search (``search`` as the stanza runs it)."""
    rule = compiled.rule
    level = rule.level
    columns = _columns(compiled)
    _, techniques = split_tags([str(t) for t in rule.data.get("tags", [])])
    risk: list[dict[str, object]] = [
        {"risk_object_field": field, "risk_object_type": kind, "risk_score": RISK_SCORE[level]}
        for field, kind in RISK_OBJECTS
        if field in columns
    ]
    if "src" in columns:
        risk.append({"threat_object_field": "src", "threat_object_type": "ip_address"})
    who = "$user$" if "user" in columns else "an unnamed creator on $dest$"
    # a token of a column the table lacks would stay in the title as written
    kind = "$object_category$ " if "object_category" in columns else ""
    what = f"{kind}$object$" if "object" in columns else "a container"
    # rule text goes into one-line .conf values (quoting.conf_text, as the description)
    message = conf_text(f"{rule.title}: {who} created {what}")
    settings = _risk_settings(techniques, stanza, risk, message)
    if rule.theme != "visibility":
        name, drilldown = _drilldown(compiled, search)
        settings |= {
            "action.notable": "1",
            "action.notable.param.drilldown_earliest_offset": "$info_min_time$",
            "action.notable.param.drilldown_latest_offset": "$info_max_time$",
            "action.notable.param.drilldown_name": name,
            "action.notable.param.drilldown_search": drilldown,
            "action.notable.param.rule_description": conf_text(str(rule.data["description"])),
            "action.notable.param.rule_title": message,
            "action.notable.param.security_domain": SECURITY_DOMAIN[rule.theme],
            "action.notable.param.severity": "informational" if level == "informational" else level,
        }
    return settings


def correlation_es_settings(
    packaged: PackagedCorrelation, search: str, stanza: str, columns: dict[str, str]
) -> dict[str, str]:
    """The Enterprise Security settings of one correlation search: ATT&CK annotations, risk on
    the creator (``user``) or else the first triage column of its group (type other), and a
    notable unless the correlation is informational. ``columns``: the triage columns of the
    aggregated rows (``sigma_ext.build.splunk.correlation_searches.triage_columns``)."""
    _, techniques = split_tags(list(packaged.tags))
    score = RISK_SCORE.get(packaged.level, 50)
    if "user" in columns:
        risk_object = {"risk_object_field": "user", "risk_object_type": "user"}
    else:
        first = next(iter(columns), None) or group_fields(packaged.query, "spl")[0]
        risk_object = {"risk_object_field": first, "risk_object_type": "other"}
    risk = [{**risk_object, "risk_score": score}]
    tokens = ", ".join(f"{column} ${column}$" for column in columns)
    message = conf_text(f"{packaged.title}: {tokens}" if tokens else packaged.title)
    settings = _risk_settings(techniques, stanza, risk, message)
    if packaged.alerting:
        entity = str(risk_object["risk_object_field"])
        settings |= {
            "action.notable": "1",
            "action.notable.param.drilldown_earliest_offset": "$info_min_time$",
            "action.notable.param.drilldown_latest_offset": "$info_max_time$",
            "action.notable.param.drilldown_name": f"Windows of this correlation for {entity} $"
            + entity
            + "$",
            "action.notable.param.drilldown_search": f'{search} | search {entity}="${entity}$"',
            "action.notable.param.rule_description": conf_text(packaged.description),
            "action.notable.param.rule_title": message,
            "action.notable.param.security_domain": SECURITY_DOMAIN.get(packaged.theme, "threat"),
            "action.notable.param.severity": packaged.level,
        }
    return settings
