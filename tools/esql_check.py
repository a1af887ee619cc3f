"""The shipped ES|QL rules through Elastic's offline ES|QL parser and analyzer.

detection-rules-esql-py 0.1.0 (PyPI) requires Python >= 3.12 while sigma-ext pins 3.11, so it
cannot be a dev dependency; run this in a separate environment, from the repository root:

    python3 -m venv /tmp/esql && /tmp/esql/bin/pip install --ignore-requires-python \\
        detection-rules-esql-py==0.1.0 pyyaml
    /tmp/esql/bin/python tools/esql_check.py build/elastic/detection-rules.ndjson

It parses each ES|QL rule, checks Elastic's detection-rule semantics, the columns and types
against the source's document spec, and the features against stack 8.19 (offline).
"""

import json
import sys
from pathlib import Path

import esql
import yaml
from esql import Schema

SOURCE_OF = {
    "logs-kubernetes.audit_logs-*": "kubernetes_audit",
    "logs-aws.eks_audit-*": "kubernetes_audit_eks",
    "logs-gcp.audit-*": "kubernetes_audit_gke",
}
SPECS = Path("sigma_ext/data/documents/elastic")

for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines():
    rule = json.loads(line)
    if rule["type"] != "esql":
        continue
    tree = esql.parse_query(rule["query"])
    (pattern,) = esql.get_from_sources(tree)
    source = SOURCE_OF[pattern]
    spec = yaml.safe_load((SPECS / f"{source}.yml").read_text(encoding="utf-8"))
    fields = {k: v for k, v in spec["fields"].items() if "*" not in k}
    fields |= {k: "keyword" for k in spec.get("constants", {})} | {"@timestamp": "date"}
    esql.validate_detection_rule_query(tree, rule["name"])
    esql.analyze(tree, Schema(fields))
    esql.verify_features(tree, "8.19.0")
    print(
        f"{rule['name']}: parsed, rule semantics ok, columns and types ok against the "
        f"{source} document spec, features in 8.19; KEEP {esql.get_keep_columns(tree)}"
    )
