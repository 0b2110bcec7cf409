"""Getting alerts out of the center: webhooks and MQTT, both fed from the alert event
log (the outbox), each with a cursor that moves only once an event is taken in."""
