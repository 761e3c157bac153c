#!/usr/bin/env bash
# Measures the drill's overhead: a whole `tandem drill` on a fresh local cloud, minus the time spent
# waiting on the cloud and on detection intervals. Prints `BENCH drill_overhead_ms <x> ms`.
# Used by `make bench`; starts its own local cloud on free loopback ports and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
# The binary of this tree (cargo rebuilds it when stale), unless TANDEM names one.
if [ -z "${TANDEM:-}" ]; then
  cargo build --quiet --bin tandem
  TANDEM=target/debug/tandem
fi
TANDEM="$(cd "$(dirname "$TANDEM")" && pwd)/$(basename "$TANDEM")"
work="$(mktemp -d)"
trap '(cd "$work" && "$TANDEM" local down --env bench --environments "$work/environments" >/dev/null 2>&1); rm -rf "$work"' EXIT
read -r moto global control east west < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
PY
)
mkdir -p "$work/environments"
cat > "$work/environments/bench.toml" <<TOML
[environment]
primary_region = "us-east-1"
secondary_region = "us-west-2"
domain_name = "bench.tandem-test.example"
account_id = "123456789012"
stackset_admin_region = "us-west-2"
http_only = true
protect_stateful = false

[local_cloud]
moto_port = $moto
global_port = $global
control_port = $control
region_ports = [$east, $west]
TOML
cd "$work"
run() { "$TANDEM" "$@" --env bench --environments "$work/environments"; }
run local up >/dev/null
run deploy all --yes >/dev/null
# Exit 7 (an objective missed) and 8 (unverified: the local cloud cannot measure everything) still
# measure the overhead; any other failure is the bench's.
rc=0
run drill --yes >/dev/null || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 7 ] && [ "$rc" -ne 8 ]; then
  echo "bench_drill: tandem drill failed (exit $rc)" >&2
  exit "$rc"
fi
report="$(ls -t .tandem/reports/drill-bench-*.json | head -n 1)"
python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"BENCH drill_overhead_ms {r['tandem_overhead_ms']} ms")
print(f"BENCH drill_rto_s {r['rto']['seconds']:.1f} s")
PY
