"""The live feed: pushing committed notifications to open browsers over websockets.

`push` is the one sender (views, tasks and the pipeline call it), `fanout` hands each
organization's messages to the process' sockets, `consumer` is the socket itself, `auth`
lets a socket in, `limits` keeps a socket from flooding the server, and `routing` maps the
websocket URL.
"""
