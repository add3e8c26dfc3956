"""Alerting: findings → deduplicated Slack alerts and retraining tickets (issue #5)."""
