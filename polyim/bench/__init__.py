"""``polyim bench``: a load generator that speaks the real wire protocols (issue 6).

It starts a server (or targets a running one), creates its users, runs a scenario for a fixed time and
prints one table (and, with ``--json``, one JSON object): messages per second sent, acked and delivered,
send→ack and send→deliver latency percentiles, server CPU seconds per 1,000 messages, server peak RSS,
errors and lost messages.

* :mod:`.scenarios` — chat, group, room (hook), idle, login, baseline, and the run around them;
* :mod:`.load` — a session's protocol-independent half and the plan; :mod:`.worker` — the worker that
  drives the sessions, in this process or in extra load processes;
* :mod:`.omtp_load`, :mod:`.beehive_load` — lean asyncio-Protocol clients of each wire;
* :mod:`.runner` — server processes, CPU pinning, ``/proc`` figures, accounts;
* :mod:`.stats` — histograms, counters, the table and the JSON;
* :mod:`.echo` — the baseline echo server (``python -m polyim.bench.echo``).
"""
