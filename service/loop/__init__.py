"""The answer loop (事事有回音): cases, answers computed in the background, their feed and webhook.

- :mod:`service.loop.cases`: a case per worker looking for work and per open job, with its history,
  kept in the repository's generic records and streams (they survive restarts like events do);
- :mod:`service.loop.answers`: worker and job answers, vectorised over the read snapshot;
- :mod:`service.loop.feed`: ``publish_answer(kind, id, content)`` and the ordered answer stream;
- :mod:`service.loop.webhook`: signed delivery of the feed with retries, from a durable cursor;
- :mod:`service.loop.runner`: the background thread that answers, under a lease so that one replica
  does each piece of work;
- :mod:`service.loop.stats`: follow-ups due and the loop's figures, for the API and the CLI.
"""
