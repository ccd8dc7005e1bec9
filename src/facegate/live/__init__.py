"""Server-side cameras and the browser live view (docs/live.md).

``cameras`` (capture threads on demand, backoff, watchdog), ``manager`` (which worker owns
which camera, their pipelines), ``hub`` (every live stream of a process, its newest
annotated frame and its viewers), ``relay`` (the same across ``--workers N``) and ``hook``
(all of it started and stopped beside the HTTP API). The HTTP side is
``facegate.api.routes.live``.
"""
