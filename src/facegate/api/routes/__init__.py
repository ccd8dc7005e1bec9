"""One router per area: people, recognition, the seed-002 compatibility endpoint, health."""
