"""Notifications without Prometheus: every alert raised or resolved reaches a person.

    fleet health (alerts.py) --every FLEET_ALERTS_INTERVAL_S--> watcher.py
      -> store/alert_states.py   hold-down (alert_changes.py), one transaction: state,
                                 event with its JSON body (events.py), one outbox row
                                 per destination (outbox.py)
      -> dispatcher.py           claims due rows (lease), sends (delivery.py): webhooks
                                 signed with HMAC (signing.py), e-mail over SMTP;
                                 retries with backoff; survives restarts (the outbox is
                                 in the database); at least once, deduplicated by event id

:class:`AlertService` runs the watcher and the dispatcher as tasks of the API's lifespan.
Settings: :mod:`fleet_api.notifications.settings` (part of :class:`fleet_api.settings.Settings`).
"""
