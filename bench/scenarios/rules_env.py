#!/usr/bin/env python3
"""Prints N rules as one HOCON object, the value of EMQX_RULE_ENGINE__RULES, for
compare.py's rule variants (bench/RESULTS.md):

    bench/scenarios/rules_env.py 10

Rule i reads every benchmark topic (fan/#, p2p/#), decodes the JSON payload of
`emqxd-bench --json-payload` and passes when payload.v (the sequence mod 100) is i mod 100,
then republishes {v} to rules/<i>/<clientid>, which nobody subscribes to: with 100 rules
every message passes exactly one of them."""
import sys

n = int(sys.argv[1])
rules = []
for i in range(n):
    rules.append(
        'r%d {sql = """SELECT payload.v AS v, clientid FROM "fan/#", "p2p/#" WHERE payload.v = %d""", '
        'actions = [{function = republish, args = {topic = "rules/%d/${clientid}", payload = "${v}"}}]}'
        % (i, i % 100, i))
print("{" + ", ".join(rules) + "}")
