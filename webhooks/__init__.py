"""The webhooks service: tracecode status changes and alerts POSTed to HTTP subscribers."""
