"""The server benchmark suite of issue 4: ``python -m bench.run`` (``make bench``).

Every benchmark starts the real ``server.py`` and local fake exchanges (the simulator's fast
mode, ``python -m simulator --fast``) at a fixed aggregate rate; Socket.IO load clients
(``bench.clients``) run in their own processes, and every process's CPU is measured from
``/proc`` so a load generator that became the bottleneck shows in the report. ``bench.run``
picks the scenarios (``bench.scenarios``), prints a table per row beside its target and writes
JSON. Run everything from the repository root.
"""
