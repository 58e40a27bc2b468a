"""Slack listeners, one module per kind; each exposes ``register(app, services)``.

Listeners are thin: ack first, parse, call the store or the domain, render with
bot.blocks, make one Web API call.
"""
