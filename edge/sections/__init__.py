"""The flat configuration's sections for the integrations (``homeassistant:``, ``serve:``,
``influx:``, the alarm path's ``webhooks``): at the config boundary, in the core, so that
``edge.config`` reads them without importing the integrations that act on them."""
