"""Baseline's settings, the Slack manifest and the editable catalog of practices and prompts."""
