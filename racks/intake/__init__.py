"""The rack-event intake: what a real rack POSTs to its ingest URL, from the wire to the
pipeline.

`envelope` reads the body, `signature` checks who sent it, `view` is the ingest URL and
`state` keeps the modelled rack in step with what the rack reports. The intake calls the
notifications pipeline (`record_event`); nothing in `notifications` calls back into it.
"""
