"""``baseline demo``: the real bot against a Slack simulator in this process, with a sample
team, their calendars and a fast clock; what each person would get is printed as it arrives.

``bot.demo.run`` wires it together; nothing here connects or starts at import time.
"""
