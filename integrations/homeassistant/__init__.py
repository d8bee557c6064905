"""Home Assistant: MQTT discovery of each apartment's entities (``discovery``) and
notifications of urgent signals through its REST API (``notify``); ``config`` is the
``homeassistant:`` section of the flat configuration. See docs/homeassistant.md.

Nothing is imported here: ``edge.config`` imports this package's ``config`` module, and the
other modules import ``edge``.
"""
