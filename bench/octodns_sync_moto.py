"""octodns-sync, unchanged, against moto's server: the one change is that every boto3
client octodns-route53 makes gets dnssync's `paging_complete` hook, which fills in the
IsTruncated field moto leaves out of ListHealthChecks (Route53 always sends it)."""

import octodns.cmds.sync as sync
import octodns_route53.auth as auth

from dnssync.providers.route53 import paging_complete

_client = auth._AuthMixin.client


def _client_with_hook(self, *args, **kwargs):
    client = _client(self, *args, **kwargs)
    client.meta.events.register("after-call.route53.ListHealthChecks", paging_complete)
    return client


auth._AuthMixin.client = _client_with_hook

if __name__ == "__main__":
    sync.main()
