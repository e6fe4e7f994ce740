"""Getting notifications out of the console: email and webhooks, reliably and safely.

safety: which addresses may be called; http: the one helper all outgoing HTTP goes
through; signing: webhook secrets and signatures; senders: one class per kind of
delivery; batch: sending a claimed batch at once; emails: what the emails say; outbox:
the life of a delivery (queue, attempt, retry, redeliver, recover, sweep, digest);
endpoints: changes to webhook endpoints; tasks: the Celery tasks.
"""
