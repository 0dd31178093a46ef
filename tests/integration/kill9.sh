#!/bin/sh
# kill -9 during a burst of submissions loses no certificate that a client
# was given and never reuses a serial or a request id.
. "$LIB"

ca_init
daemon_start
new_csr burst

# 8 clients, 300 submissions; the daemon dies in the middle.
seq 1 300 >"$T_DIR/jobs"
(
	xargs -P 8 -I{} sh -c 'curl -s -m 20 -o "$1/r.{}.json" -w "%{http_code}" \
	    -H "Content-Type: application/pkcs10" --data-binary @"$1/burst.csr" \
	    "$2/api/v1/requests" >"$1/c.{}" 2>/dev/null; true' _ "$T_DIR" "$URL" \
	    <"$T_DIR/jobs"
) &
clients=$!
# Wait until some certificates are out, then crash the daemon.
wait_until 60 sh -c '[ "$(grep -l 201 "$1"/c.* 2>/dev/null | wc -l)" -ge 40 ]' \
    _ "$T_DIR"
daemon_kill
wait $clients

given=$(grep -l 201 "$T_DIR"/c.* 2>/dev/null | wc -l)
check "some certificates were given before the crash" test "$given" -ge 1
echo "# $given certificates were given out before kill -9"

daemon_start
# Every certificate given out, as the database now has it: one python for
# them all (a process per certificate took most of this test's time).
# Prints "lost N", the highest request id given, then one line per
# request lost; the serials given go to $T_DIR/serials.
python3 - "$T_DIR" "$URL" >"$T_DIR/given.out" <<'PY'
import glob, json, os, sys, urllib.error, urllib.request
d, url = sys.argv[1:3]
lost, maxid, notes, serials = 0, 0, [], []
for c in glob.glob(os.path.join(d, "c.*")):
    if "201" not in open(c).read():
        continue
    r = json.load(open(os.path.join(d, "r." + c.rsplit(".", 1)[1] + ".json")))
    rid, serial = r["request_id"], r["serial"]
    serials.append(serial)
    maxid = max(maxid, rid)
    try:
        with urllib.request.urlopen(f"{url}/api/v1/requests/{rid}",
                                    timeout=60) as f:
            j = json.load(f)
    except urllib.error.HTTPError as e:
        j = {"disposition": f"HTTP {e.code}"}
    if (j["disposition"], j.get("serial")) != ("issued", serial):
        lost += 1
        notes.append(f"# request {rid}: given serial {serial}, database "
                     f"says: {j['disposition']} {j.get('serial')}")
open(os.path.join(d, "serials"), "w").write(
    "".join(f"{s}\n" for s in serials))
print("lost", lost)
print(maxid)
print("\n".join(notes))
PY
sed -n '3,$p' "$T_DIR/given.out"
check_eq "every certificate given out is in the database" "lost 0" \
    "$(sed -n 1p "$T_DIR/given.out")"
maxid=$(sed -n 2p "$T_DIR/given.out")

# After the restart the CA issues again, with fresh ids and serials.
issued_after=0
for i in 1 2 3 4 5; do
	code=$(submit_http "$T_DIR/burst.csr" | head -1)
	if [ "$code" = 201 ]; then
		issued_after=$((issued_after + 1))
	else
		echo "# submission after restart: HTTP $code: $(cat "$T_DIR/resp.json")"
		continue
	fi
	json "$T_DIR/resp.json" 'j["request_id"]' >>"$T_DIR/newids"
	json "$T_DIR/resp.json" 'j["serial"]' >>"$T_DIR/serials"
done
check_eq "every submission after the restart is issued" 5 "$issued_after"
minnew=$(sort -n "$T_DIR/newids" | head -1)
check "request ids after the restart are above every id given out" \
    test "$minnew" -gt "$maxid"
check_eq "no serial was given twice" "$(wc -l <"$T_DIR/serials")" \
    "$(sort -u "$T_DIR/serials" | wc -l)"
finish
