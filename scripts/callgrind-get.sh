#!/usr/bin/env bash
# Server instructions per ticket read, counted by callgrind (repeatable, unlike timings on
# shared cores). Starts BIN's server under valgrind on an existing database, warms it up with
# 200 reads, zeroes the counters, makes N reads of GET /api/v1/tickets/{id} over one
# keep-alive connection (curl), and prints the instructions per read. The profile is left in
# $OUT for callgrind_annotate.
#
#   scripts/callgrind-get.sh BIN DATA_DIR EMAIL PASSWORD [N] [API_PATH]
#
# With API_PATH (e.g. '/tickets?status=open,waiting&priority=high&limit=50') every read is a
# GET of that path instead of a different ticket each time.
#
# DATA_DIR is the server's data directory (its secret key); TRIAGE_DATABASE_URL selects
# PostgreSQL as for `serve`. EMAIL/PASSWORD: an admin account of that database
# (`triage user create --role admin`). Needs valgrind and curl.
set -euo pipefail
BIN=$1; DATA_DIR=$2; EMAIL=$3; PASSWORD=$4; N=${5:-2000}; API_PATH=${6:-}
OUT=${OUT:-/tmp/triage-callgrind}
PORT=${PORT:-47112}
rm -rf "$OUT"; mkdir -p "$OUT"
RUST_LOG=warn valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$OUT/callgrind.out" \
  "$BIN" --data-dir "$DATA_DIR" serve --listen "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 &
VP=$!
trap 'kill -INT $VP 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.5; done
API="http://127.0.0.1:$PORT/api/v1"
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
ACCESS=$(curl -sf -X POST "$API/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | json_field access_token)
TOKEN=$(curl -sf -X POST "$API/auth/tokens" -H "authorization: Bearer $ACCESS" \
  -H 'content-type: application/json' -d '{"name":"callgrind"}' | json_field token)
# One keep-alive connection for every read: with API_PATH, a curl config of N copies of it.
reads() {
  if [ -z "$API_PATH" ]; then
    curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer $TOKEN" \
      "$API/tickets/[$(($1 + 1))-$(($1 + $2))]"
  else
    for _ in $(seq 1 "$2"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$API$API_PATH"; done \
      >"$OUT/reads.curl"
    curl -s -w '%{http_code}\n' -H "authorization: Bearer $TOKEN" -K "$OUT/reads.curl"
  fi
}
reads 0 200 >/dev/null
callgrind_control --zero "$VP" >/dev/null
reads 1000 "$N" | sort | uniq -c >"$OUT/statuses"
callgrind_control --dump "$VP" >/dev/null
kill -INT "$VP"; wait "$VP" 2>/dev/null || true
trap - EXIT
TOTAL=$(grep -h '^summary:' "$OUT/callgrind.out.1" | awk '{print $2}')
echo "statuses: $(tr '\n' ' ' <"$OUT/statuses")"
echo "instructions: $TOTAL for $N reads, $((TOTAL / N)) per read (profile: $OUT/callgrind.out.1)"
