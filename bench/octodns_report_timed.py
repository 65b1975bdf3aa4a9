"""octodns-report, unchanged, with its query phase timed: the wrapper only measures
`run_until_complete` of the event loop it creates and prints QUERY_SECONDS to stderr."""

import sys
import time

import octodns.cmds.report as report

_new_event_loop = report.new_event_loop


def _timed_loop():
    loop = _new_event_loop()
    run = loop.run_until_complete

    def timed(future):
        start = time.perf_counter()
        try:
            return run(future)
        finally:
            print(f"QUERY_SECONDS {time.perf_counter() - start:.6f}", file=sys.stderr)

    loop.run_until_complete = timed
    return loop


report.new_event_loop = _timed_loop

if __name__ == "__main__":
    report.main()
