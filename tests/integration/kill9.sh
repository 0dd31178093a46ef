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
lost=0
: >"$T_DIR/serials"
for c in $(grep -l 201 "$T_DIR"/c.*); do
	r=$T_DIR/r.${c##*.}.json
	id=$(json "$r" 'j["request_id"]')
	serial=$(json "$r" 'j["serial"]')
	echo "$serial" >>"$T_DIR/serials"
	got=$(curl -fsS -m 60 "$URL/api/v1/requests/$id" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["disposition"], j.get("serial"))')
	if [ "$got" != "issued $serial" ]; then
		lost=$((lost + 1))
		echo "# request $id: given serial $serial, database says: $got"
	fi
done
check_eq "every certificate given out is in the database" 0 "$lost"
maxid=$(for c in $(grep -l 201 "$T_DIR"/c.*); do
	json "$T_DIR/r.${c##*.}.json" 'j["request_id"]'; done | sort -n | tail -1)

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
