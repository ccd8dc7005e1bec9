"""Video streams: the wire protocol, tracking, and (to come) the server, client and pipeline.

``protocol`` and ``tracker`` do no I/O, so both are tested on their own.
"""
