"""Alerts: rules evaluated on the server against every record, fired once per event.

- ``alerts.rules``: the rule kinds and their validation (pure).
- ``alerts.engine``: evaluation per record, O(rules for that pair), exact decimals (pure).
- ``alerts.seed``: rules from an ``ALERTS_FILE`` (TOML).
- ``alerts.delivery``: notification URLs through Apprise, off the hub, with retries.
- ``alerts.service``: the hub observer tying them to storage, the pages and delivery.

This package names neither eventlet nor the dashboard: the service gets ``spawn``, ``sleep``,
the store call and the emit function from ``dashboard.runtime``.
"""
