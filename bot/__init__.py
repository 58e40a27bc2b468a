"""Baseline's Slack adapters and command line."""
