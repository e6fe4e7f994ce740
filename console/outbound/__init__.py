"""Outgoing HTTP: webhooks (notifications) and a connected rack's API (racks) both call
out through here, so neither app imports the other for it."""
