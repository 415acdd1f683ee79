"""Alerts through apprise (webhook, Discord, Telegram, Slack, e-mail: any apprise URL in
`livegate.yaml` `alerts.destinations`), and the seed 000 §5.3 thresholds that raise them.

    alerter = Alerter(ws)                      # cheap; holds nothing until the first emit
    alerter.emit("breaker_trip", "critical", "daily loss breaker tripped", details)

apprise is imported only when something is sent."""

from livegate.config.models import SEVERITIES
from livegate.services.alerts.dispatch import Alerter, send_alert, send_test_alert

__all__ = ["SEVERITIES", "Alerter", "send_alert", "send_test_alert"]
