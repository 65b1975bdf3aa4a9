"""The one DNS client: message framing (`wire`), zone transfers (`axfr`), the async
query engine (`engine`), pipelined TCP (`tcpbatch`) and referrals (`referral`).
Below every stage that asks DNS (providers, ALIAS resolution, verify, watch)."""
