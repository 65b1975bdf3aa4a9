from tests.conftest import unique_zone
from tests.test_push_lab import ask

def test_scratch(make_repo, lab):
    zone = unique_zone()
    text = ("both:\n  - type: CNAME\n    value: x.example.org.\n    octodns: {lenient: true}\n"
            "  - type: TXT\n    value: hello\n    octodns: {lenient: true}\n"
            "  - type: MX\n    value: {exchange: mx.example.org., preference: 10}\n    octodns: {lenient: true}\n"
            "")
    for p in ("pdns", "bind", "knot"):
        z = unique_zone()
        repo = make_repo({z: text}, providers=[p])
        r = repo.run("apply", "--yes")
        print("=====", p, r.exit_code, r.output)
        for t in ("CNAME", "TXT", "MX"):
            try:
                print(p, t, ask(lab, p, f"both.{z}", t))
            except Exception as e:
                print(p, t, "ERR", e)

        print(repo.run("verify").output[-1500:])
