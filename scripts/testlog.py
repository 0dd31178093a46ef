#!/usr/bin/env python3
"""Judge a test run for scripts/test.sh.

  testlog.py LOG.json   meson's testlog.json of this run: prints
                        "PASSED FAILED" and exits 1 if anything failed or
                        nothing ran.
  testlog.py --tap FILE one TAP stream: exits 0 only if it has at least one
                        result, no "not ok", no "Bail out!", and a plan
                        "1..N" that matches the results.

A test passes only when meson says OK, it exited 0, and what it printed
shows that it ran: a TAP test needs a matching plan and at least one "ok"
(a TAP script that printed nothing is a failure, not a skip); a cmocka test
must say it ran at least one test. Skipped, timed-out and errored tests are
failures: nothing in this suite may skip.
"""
import json
import re
import sys


def tap_problem(text):
    """Why TEXT is not a complete, passing TAP stream (None if it is)."""
    results = re.findall(r"^(not ok|ok)\b", text, re.M)
    plans = re.findall(r"^1\.\.(\d+)", text, re.M)
    if re.search(r"^Bail out!", text, re.M):
        return "bailed out"
    if not results:
        return "no result line"
    if "not ok" in results:
        return "%d check(s) failed" % results.count("not ok")
    if len(plans) != 1:
        return "no plan" if not plans else "several plans"
    if int(plans[0]) != len(results):
        return "plan 1..%s but %d results" % (plans[0], len(results))
    return None


def cmocka_problem(text):
    m = re.search(r"^\[=+\] (\d+) test\(s\) run\.", text, re.M)
    if not m or int(m.group(1)) == 0:
        return "no cmocka test ran"
    return None


def judge_log(path):
    passed = failed = 0
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print("testlog: no log of this run (%s): no test ran" % e.strerror,
              file=sys.stderr)
        print("0 0")
        return 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        name, out = t["name"], t.get("stdout") or ""
        why = None
        if t.get("result") != "OK":
            why = "meson says %s" % t.get("result")
        elif t.get("returncode") != 0:
            why = "exit status %s" % t.get("returncode")
        elif "integration" in name:
            why = tap_problem(out)
        elif "unit" in name:
            why = cmocka_problem(out)
        if why:
            failed += 1
            print("testlog: FAILED %s: %s" % (name, why), file=sys.stderr)
        else:
            passed += 1
    print(passed, failed)
    return 1 if failed or passed == 0 else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tap":
        try:
            text = open(sys.argv[2]).read()
        except OSError as e:
            print("testlog: %s: %s" % (sys.argv[2], e.strerror))
            return 1
        why = tap_problem(text)
        if why:
            print("testlog: %s: %s" % (sys.argv[2], why))
            return 1
        return 0
    if len(sys.argv) == 2:
        return judge_log(sys.argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
