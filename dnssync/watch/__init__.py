"""Follow an apply until it has propagated everywhere (`dnssync watch`, `apply --wait`).

octoDNS and DNSControl stop when the providers' APIs return, but a change is only
live once every nameserver of every provider serves it, and no resolver can still
hold the old answer in its cache: the old TTL after the last nameserver switched,
or, for a name that did not exist, the negative-cache TTL (RFC 2308).

* `changes`: what an apply changed, read back from its record (old and new values
  and TTLs per provider), so `watch` can run later or from another CI job.
* `propagation`: the timing model. Fed with what nameservers and resolvers answer,
  it returns events (plain dicts; one JSON line each with --format json) and
  decides when the change is fully propagated, has timed out, or went wrong.
* `poll`: asks every nameserver and resolver once per interval, through the
  verify query engine, and feeds the model.
"""
