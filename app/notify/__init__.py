"""Budget notifications for tenants: thresholds of the monthly budget, sent once each per month to
the tenant's webhook from a durable outbox, whichever replica sees the crossing first."""
