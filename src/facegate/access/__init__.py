"""Access control: doors, people groups and rules turned into granted/denied decisions.

A door is watched by cameras (server cameras or TCP streams, by name). Every confirmed face at
a door camera becomes a decision with a reason, a durable door event, and messages to the
door's outputs (webhook, MQTT, HTTP relay; ``facegate.access.outputs``). Liveness is asked of
``facegate.liveness``. docs/access.md describes the whole.
"""
