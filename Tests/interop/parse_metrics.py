"""Parses a /metrics answer with prometheus_client's text-format parser and
prints its samples as JSON ([{"name", "labels", "value", "type"}]); any
format error ends with a non-zero status."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
samples = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value, "type": family.type})
json.dump(samples, sys.stdout)
