"""Alerts through apprise (webhook, Discord, Telegram, Slack, e-mail: any apprise URL in
`livegate.yaml` `alerts.destinations`), and the seed 000 §5.3 thresholds that raise them.

    alerter = Alerter(ws)                      # cheap; holds nothing until the first emit
    alerter.emit("breaker_trip", "critical", "daily loss breaker tripped", details)

A critical alert waits for `livegate alert ack ID` (`acks.acknowledge`); a running loop calls
`resend_unacknowledged(ws, now)` on every turn to send it again until then.

apprise is imported only when something is sent."""

from livegate.config.models import SEVERITIES
from livegate.services.alerts.acks import resend_unacknowledged
from livegate.services.alerts.dispatch import Alerter, send_alert, send_test_alert

__all__ = ["SEVERITIES", "Alerter", "resend_unacknowledged", "send_alert", "send_test_alert"]
