"""Baseline's recovery engine: calendar → busy intervals → day shape → a plan of nudges.

Everything in this package is pure. Time comes in as ``now``, time zones as ``ZoneInfo``;
no Slack, Redis, network or clock reads (tests/nudges/test_purity.py enforces the imports).
"""
