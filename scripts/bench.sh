#!/usr/bin/env bash
# The reference run (`make bench`): wosd against nginx on loopback, workload by workload, in
# alternation, with the ratios docs/PERFORMANCE.md records.
#
#   scripts/bench.sh [--quick] [--pairs N] [--out DIR] [--only NAMES] [--no-perf] [--pin split|none]
#
#   --quick        short runs and smaller data (3 s runs, a 100,000-key listing bucket, 256 MiB
#                  uploads for the memory figure): for a quick look, not for the record
#   --pairs N      alternating wosd/nginx pairs per workload (default 5; medians of the ratios)
#   --out DIR      where the JSON of every run, the profiles and results.md go (default build/bench)
#   --only NAMES   comma-separated subset: get4k,get64m,put4k,put4k_none,put64m,put64m_disk,
#                  initiate,list,memory,startup
#   --no-perf      skip the perf profiles
#   --pin MODE     split (default): the load generator on CPU 0, the server on CPU 1, so the
#                  generator never takes the server's time and runs repeat; none: no pinning
#
# nginx (Debian's nginx-light) is installed if missing. Both servers run from a fresh temporary
# directory on disk (BENCH_TMP, default /var/tmp) — except for the 64 MiB PUT, measured with both
# servers' data on tmpfs (BENCH_SHM, default /dev/shm) so that it shows the servers' CPU path
# (MD5 for wosd) rather than the disk's write speed (put64m_disk is the same on disk). Servers
# are stopped by PID on exit and the directories removed (BENCH_KEEP=1 keeps them). The wosd
# binary is copied first, so a rebuild during the run changes nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

QUICK=0 PAIRS=5 OUT=build/bench ONLY="" PERF=1 PIN=${BENCH_PIN:-split}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --pairs) PAIRS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --no-perf) PERF=0 ;;
    --pin) PIN=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
WOSD=$REPO/build/wosd
[ -x "$WOSD" ] || { echo "bench.sh: $WOSD not built (run make)" >&2; exit 1; }
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- sizes and durations ----------------------------------------------------------------------
if [ "$QUICK" = 1 ]; then
  DUR=3s WARM=1s LIST_BIG=100000 MEM_PUT=256MiB BIG_OBJS=8
else
  DUR=10s WARM=2s LIST_BIG=1000000 MEM_PUT=1GiB BIG_OBJS=16
fi
IDLE_CONNS=10000

# --- nginx ------------------------------------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx-light"
  if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >&2 && $sudo apt-get install -y -q --no-install-recommends nginx-light >&2 \
    || { echo "bench.sh: cannot install nginx-light" >&2; exit 1; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- CPUs ---------------------------------------------------------------------------------------
NCPU=$(nproc)
if [ "$PIN" = split ] && [ "$NCPU" -ge 2 ]; then
  GEN="taskset -c 0" SRV="taskset -c 1-$((NCPU - 1))"
  SRV_CORES=$((NCPU - 1))
else
  PIN=none GEN="" SRV="" SRV_CORES=$NCPU
fi

# --- the temporary world, and leaving it ----------------------------------------------------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TMP=$(mktemp -d "${BENCH_TMP:-/var/tmp}/wosd-bench.XXXXXX")
SHM=$(mktemp -d "${BENCH_SHM:-/dev/shm}/wosd-bench.XXXXXX")
chmod 711 "$TMP" "$SHM"   # nginx's workers (another user) must reach their roots below them
cp "$WOSD" "$TMP/wosd" && WOSD=$TMP/wosd
PIDS=()
stop_pid() {   # SIGTERM, wait up to 20 s, then SIGKILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
on_exit() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  wait 2>/dev/null
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$TMP" "$SHM"; else log "kept $TMP $SHM"; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

export WOSD_ROOT_ACCESS_KEY=BENCHROOTACCESSKEY01
WOSD_ROOT_SECRET_KEY=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
export WOSD_ROOT_SECRET_KEY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {   # port
  local i
  for i in $(seq 300); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# start_wosd NAME FSYNC [args…]: sets PORT_<NAME>, PID_<NAME>, DATA_<NAME>; BASE=dir overrides $TMP
start_wosd() {
  local name=$1 fsync=$2; shift 2
  local port; port=$(free_port)
  local data=${BASE:-$TMP}/wosd-$name
  mkdir -p "$data"
  $SRV "$WOSD" serve --listen 127.0.0.1:"$port" --data "$data" --fsync "$fsync" "$@" \
    >>"$TMP/wosd-$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "$port" || { echo "bench.sh: wosd $name did not start" >&2; tail "$TMP/wosd-$name.log" >&2; exit 1; }
  printf -v "PORT_$name" %s "$port"; printf -v "PID_$name" %s "$pid"; printf -v "DATA_$name" %s "$data"
}
stop_wosd() {   # NAME
  local pid_var="PID_$1"
  stop_pid "${!pid_var}"
}

# start_nginx NAME [BASE]: sets NGX_PORT_<NAME>, NGX_PID_<NAME>
start_nginx() {
  local name=$1 dir=${2:-$TMP}/nginx-$1
  mkdir -p "$dir/root" "$dir/body-tmp" "$dir/logs"
  local NGX_PORT; NGX_PORT=$(free_port)
  local user_line=""
  if [ "$(id -u)" = 0 ]; then   # workers must write the roots: give them to the worker user
    local u=www-data
    id "$u" >/dev/null 2>&1 || u=nobody
    user_line="user $u;"
    chown -R "$u:" "$dir/root" "$dir/body-tmp"
  fi
  cat >"$dir/nginx.conf" <<EOF
# the HTTP reference: static GET with sendfile, PUT (and DELETE, for cleanup) with the DAV module
worker_processes 2;
$user_line
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections 16384; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_max_body_size 0;
  client_body_temp_path $dir/body-tmp;   # same filesystem as root: PUT renames, never copies
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGX_PORT backlog=4096;
    root $dir/root;
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
EOF
  $SRV "$NGINX" -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' >>"$dir/logs/stdout.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "$NGX_PORT" || { echo "bench.sh: nginx did not start" >&2; cat "$dir/logs/error.log" >&2; exit 1; }
  printf -v "NGX_PORT_$name" %s "$NGX_PORT"; printf -v "NGX_PID_$name" %s "$pid"
}

# --- running the generator -----------------------------------------------------------------------
RUNS=$OUT/runs
mkdir -p "$RUNS"
rm -f "$RUNS"/*.json "$OUT"/pairs.tsv "$OUT"/single.tsv
# bench TARGET TAG WORKLOAD [args…] → JSON in $RUNS/TAG.json; TARGET is a wosd NAME or nginx-NAME
bench() {
  local target=$1 tag=$2 wl=$3; shift 3
  local ep
  if [[ "$target" == nginx-* ]]; then
    local nv="NGX_PORT_${target#nginx-}"
    ep=(--endpoint "http://127.0.0.1:${!nv}" --sign none --no-bucket-ops --bucket bench)
  else
    local pv="PORT_$target"
    ep=(--endpoint "http://127.0.0.1:${!pv}")
  fi
  $GEN "$WOSD" bench "$wl" "${ep[@]}" --json --quiet "$@" >"$RUNS/$tag.json" 2>"$RUNS/$tag.err"
  local rc=$?
  if [ ! -s "$RUNS/$tag.json" ]; then
    echo "bench.sh: run $tag failed (status $rc):" >&2; tail -5 "$RUNS/$tag.err" >&2
    echo '{}' >"$RUNS/$tag.json"
  fi
}
jget() {   # FILE KEY.PATH → value (empty when absent)
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[k]
    print(v)
except Exception:
    print("")
EOF
}
# pair NAME METRIC I A-TARGET A-TAG B-TARGET B-TAG: records one pair's two values
record_pair() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$3" "$(jget "$RUNS/$5.json" "$2")" "$(jget "$RUNS/$7.json" "$2")" >>"$OUT/pairs.tsv"
  local e1 e2
  e1=$(jget "$RUNS/$5.json" errors) e2=$(jget "$RUNS/$7.json" errors)
  [ "${e1:-0}" = 0 ] && [ "${e2:-0}" = 0 ] || log "  note: errors in $5 ($e1) or $7 ($e2)"
}
single() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/single.tsv"; }

# perf_profile NAME PID SECONDS: a flat cpu-clock profile of PID while a run goes on
PERF_OK=0
if [ "$PERF" = 1 ] && command -v perf >/dev/null 2>&1 && perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
  PERF_OK=1
fi
mkdir -p "$OUT/perf"
perf_profile() {
  [ "$PERF_OK" = 1 ] || return 0
  local name=$1 pid=$2 secs=$3
  perf record -e cpu-clock -F 999 -p "$pid" -o "$TMP/perf-$name.data" -- sleep "$secs" >/dev/null 2>&1
  {
    echo "== $name: share of CPU samples by object"
    perf report -i "$TMP/perf-$name.data" --stdio --sort dso -F overhead,dso --percent-limit 0.5 2>/dev/null |
      grep -v '^#' | grep -v '^$' | sort -rn
    echo "== top symbols"
    perf report -i "$TMP/perf-$name.data" --stdio -F overhead,dso,sym --percent-limit 0.7 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -40
  } >"$OUT/perf/$name.txt"
  rm -f "$TMP/perf-$name.data"
}
# profile_run NAME TARGET PID WORKLOAD [args…]: a run of its own with perf attached to PID
# (and to its children: nginx's workers)
profile_run() {
  [ "$PERF_OK" = 1 ] || return 0
  local name=$1 target=$2 pid=$3 wl=$4; shift 4
  local kids; kids=$(pgrep -P "$pid" | paste -sd, -)
  [ -n "$kids" ] && pid="$pid,$kids"
  bench "$target" "perf-$name" "$wl" --duration 6s "$@" &
  local bp=$!
  sleep 1.5
  perf_profile "$name" "$pid" 4
  wait "$bp"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
tree_rss_kib() {   # a process and its children (nginx master + workers)
  local t=0 p
  for p in $1 $(pgrep -P "$1"); do t=$((t + $(rss_kib "$p"))); done
  echo $t
}

# --- the machine --------------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
KERNEL=$(uname -r)
MD5_LINE=$($SRV openssl speed -evp md5 -bytes 16384 -seconds 3 2>/dev/null | awk '/^md5/ {print $2}')
MD5_MIBS=$(python3 -c "print(round(float('${MD5_LINE%k}' or 0) * 1000 / 1048576, 1))" 2>/dev/null || echo 0)
if [ "$SRV_CORES" -gt 1 ]; then
  MD5_LINE=$($SRV openssl speed -multi "$SRV_CORES" -evp md5 -bytes 16384 -seconds 3 2>/dev/null | awk '/^md5/ {print $2}')
  MD5_MIBS=$(python3 -c "print(round(float('${MD5_LINE%k}' or 0) * 1000 / 1048576, 1))" 2>/dev/null || echo 0)
fi
single md5_mibs "$MD5_MIBS"
log "machine: $NCPU CPUs ($CPU_MODEL), kernel $KERNEL; MD5 on the server's $SRV_CORES core(s): $MD5_MIBS MiB/s"
log "pinning: $PIN (generator: ${GEN:-any CPU}; servers: ${SRV:-any CPU}); runs of $DUR after $WARM warm-up, $PAIRS pairs"
{
  echo "command: scripts/bench.sh $([ "$QUICK" = 1 ] && echo --quick) --pairs $PAIRS --pin $PIN"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $NCPU"
  echo "cpu: $CPU_MODEL"
  echo "kernel: $KERNEL"
  echo "nginx: $($NGINX -v 2>&1 | sed 's/.*: //')"
  echo "wosd: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "pinning: $PIN (generator: ${GEN:-any}; servers: ${SRV:-any})"
  echo "md5_mib_s (server cores): $MD5_MIBS"
  echo "perf: $([ "$PERF_OK" = 1 ] && echo "cpu-clock sampling (hardware counters: $(perf stat -e instructions true 2>&1 | grep -q 'not supported' && echo 'not supported' || echo available))" || echo unavailable)"
} >"$OUT/machine.txt"

start_nginx disk
start_wosd dur always
log "nginx pid $NGX_PID_disk port $NGX_PORT_disk; wosd (fsync always) pid $PID_dur port $PORT_dur"

# pairs NAME METRIC A-TARGET B-TARGET WORKLOAD-A ARGS-A… -- WORKLOAD-B ARGS-B…: ABBA order
pairs() {
  local name=$1 metric=$2 ta=$3 tb=$4; shift 4
  local a=() b=() in_b=0 x
  for x in "$@"; do
    if [ "$x" = -- ]; then in_b=1; continue; fi
    if [ $in_b = 0 ]; then a+=("$x"); else b+=("$x"); fi
  done
  local i
  for i in $(seq "$PAIRS"); do
    local pa=("${a[@]//@I@/$i}") pb=("${b[@]//@I@/$i}")
    if [ $((i % 2)) = 1 ]; then
      bench "$ta" "$name-$i-a" "${pa[@]}"; bench "$tb" "$name-$i-b" "${pb[@]}"
    else
      bench "$tb" "$name-$i-b" "${pb[@]}"; bench "$ta" "$name-$i-a" "${pa[@]}"
    fi
    record_pair "$name" "$metric" "$i" "$ta" "$name-$i-a" "$tb" "$name-$i-b"
    log "  $name pair $i: $(tail -1 "$OUT/pairs.tsv" | cut -f3,4 | tr '\t' ' ')"
  done
}
RUN=(--duration "$DUR" --warmup "$WARM")

# --- GET ----------------------------------------------------------------------------------------
if want get4k || want initiate; then
  log "GET 4 KiB x 64: preparing 1000 objects on each"
  bench dur prep-get4k get --bucket get4k --size 4KiB --objects 1000 --concurrency 64 --prepare-only
  bench nginx-disk prep-get4k-ngx get --prefix get4k/ --size 4KiB --objects 1000 --concurrency 64 --prepare-only
fi
if want get4k; then
  pairs get4k ops_per_s dur nginx-disk \
    get --bucket get4k --size 4KiB --objects 1000 --concurrency 64 --skip-prepare --no-cleanup "${RUN[@]}" -- \
    get --prefix get4k/ --size 4KiB --objects 1000 --concurrency 64 --skip-prepare --no-cleanup "${RUN[@]}"
  profile_run get4k-wosd dur "$PID_dur" get --bucket get4k --size 4KiB --objects 1000 --concurrency 64 --skip-prepare --no-cleanup
  profile_run get4k-nginx nginx-disk "$NGX_PID_disk" get --prefix get4k/ --size 4KiB --objects 1000 --concurrency 64 --skip-prepare --no-cleanup
fi
if want get64m; then
  log "GET 64 MiB x 8: preparing $BIG_OBJS objects on each"
  bench dur prep-get64m get --bucket get64m --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --prepare-only
  bench nginx-disk prep-get64m-ngx get --prefix get64m/ --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --prepare-only
  pairs get64m mib_per_s dur nginx-disk \
    get --bucket get64m --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --skip-prepare --no-cleanup --no-verify "${RUN[@]}" -- \
    get --prefix get64m/ --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --skip-prepare --no-cleanup --no-verify "${RUN[@]}"
  profile_run get64m-wosd dur "$PID_dur" get --bucket get64m --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --skip-prepare --no-cleanup --no-verify
  profile_run get64m-nginx nginx-disk "$NGX_PID_disk" get --prefix get64m/ --size 64MiB --objects "$BIG_OBJS" --concurrency 8 --skip-prepare --no-cleanup --no-verify
fi

# --- PUT ----------------------------------------------------------------------------------------
if want put4k; then
  pairs put4k ops_per_s dur nginx-disk \
    put --bucket put4k --prefix r@I@/ --size 4KiB --concurrency 64 --no-cleanup "${RUN[@]}" -- \
    put --prefix put4k-r@I@/ --size 4KiB --concurrency 64 --no-cleanup "${RUN[@]}"
  profile_run put4k-wosd dur "$PID_dur" put --bucket put4k --prefix prof/ --size 4KiB --concurrency 64 --no-cleanup
  profile_run put4k-nginx nginx-disk "$NGX_PID_disk" put --prefix put4k-prof/ --size 4KiB --concurrency 64 --no-cleanup
fi
if want put4k_none; then
  start_wosd none none
  log "wosd (fsync none) pid $PID_none port $PORT_none"
  pairs put4k_none ops_per_s none nginx-disk \
    put --bucket put4k --prefix r@I@/ --size 4KiB --concurrency 64 --no-cleanup "${RUN[@]}" -- \
    put --prefix put4kn-r@I@/ --size 4KiB --concurrency 64 --no-cleanup "${RUN[@]}"
  profile_run put4k_none-wosd none "$PID_none" put --bucket put4k --prefix prof/ --size 4KiB --concurrency 64 --no-cleanup
  stop_wosd none
fi
if want put64m; then
  # on tmpfs: the servers' CPU path, not the disk; cleaned up after each run (several GB a run)
  BASE=$SHM start_wosd shm always
  start_nginx shm "$SHM"
  log "on tmpfs: wosd pid $PID_shm port $PORT_shm; nginx pid $NGX_PID_shm port $NGX_PORT_shm"
  # A short unrecorded run on each first: the first gigabytes written into tmpfs after the
  # earlier workloads are slow on this VM (wosd's pair-1 run, which came first, was 199-234 MiB/s
  # against 430-530 in later pairs, 2026-11-25), and only the first server to write paid it.
  bench shm warm-put64m put --bucket put64m --prefix w/ --size 64MiB --concurrency 8 --no-verify --duration 3s --warmup 0s
  bench nginx-shm warm-put64m-ngx put --prefix put64m-w/ --size 64MiB --concurrency 8 --no-verify --duration 3s --warmup 0s
  pairs put64m mib_per_s shm nginx-shm \
    put --bucket put64m --prefix r@I@/ --size 64MiB --concurrency 8 --no-verify "${RUN[@]}" -- \
    put --prefix put64m-r@I@/ --size 64MiB --concurrency 8 --no-verify "${RUN[@]}"
  profile_run put64m-wosd shm "$PID_shm" put --bucket put64m --prefix prof/ --size 64MiB --concurrency 8 --no-verify
  profile_run put64m-nginx nginx-shm "$NGX_PID_shm" put --prefix put64m-prof/ --size 64MiB --concurrency 8 --no-verify
  stop_wosd shm
  stop_pid "$NGX_PID_shm"
fi
if want put64m_disk; then
  # the same on disk, for the record: both servers soon wait for the device
  pairs put64m_disk mib_per_s dur nginx-disk \
    put --bucket put64m --prefix d@I@/ --size 64MiB --concurrency 8 --no-verify "${RUN[@]}" -- \
    put --prefix put64m-d@I@/ --size 64MiB --concurrency 8 --no-verify "${RUN[@]}"
fi

# --- InitiateMultipartUpload against GET 4 KiB, both on wosd -------------------------------------
if want initiate; then
  pairs initiate ops_per_s dur dur \
    initiate --bucket initiate --concurrency 64 --no-cleanup "${RUN[@]}" -- \
    get --bucket get4k --size 4KiB --objects 1000 --concurrency 64 --skip-prepare --no-cleanup "${RUN[@]}"
  profile_run initiate-wosd dur "$PID_dur" initiate --bucket initiate --concurrency 64 --no-cleanup
fi
stop_pid "$NGX_PID_disk"

# --- ListObjectsV2 in a 1,000-key and a $LIST_BIG-key bucket -------------------------------------
if want list || want startup; then
  start_wosd list none
  log "list: preparing 1000 + $LIST_BIG zero-byte objects (wosd --fsync none, 256 connections)"
  bench list prep-list1k list --bucket list1k --objects 1000 --concurrency 64 --prepare-only
  t0=$(date +%s.%N)
  bench list prep-listbig list --bucket listbig --objects "$LIST_BIG" --concurrency 256 --prepare-only
  t1=$(date +%s.%N)
  single list_prepare_seconds "$(python3 -c "print(round($t1 - $t0, 1))")"
  single list_prepare_ops_per_s "$(jget "$RUNS/prep-listbig.json" prepare.ops_per_s)"
  log "  $LIST_BIG objects in $(python3 -c "print(round($t1 - $t0, 1))") s"
fi
if want list; then
  pairs list latency_ms.p50 list list \
    list --bucket listbig --objects "$LIST_BIG" --concurrency 1 --skip-prepare --no-cleanup "${RUN[@]}" -- \
    list --bucket list1k --objects 1000 --concurrency 1 --skip-prepare --no-cleanup "${RUN[@]}"
  profile_run list-wosd list "$PID_list" list --bucket listbig --objects "$LIST_BIG" --concurrency 1 --skip-prepare --no-cleanup
fi

# --- start-up on a data directory of ~1,000,000 objects --------------------------------------------
if want startup; then
  stop_wosd list
  port=$(free_port)
  for i in $(seq "$PAIRS"); do
    $GEN "$WOSD" bench startup --json --endpoint "http://127.0.0.1:$port" --idle 0.5 --log "$TMP/startup.log" -- \
      $SRV "$WOSD" serve --listen "127.0.0.1:$port" --data "$DATA_list" >"$RUNS/startup-$i.json" 2>"$RUNS/startup-$i.err"
    single startup_ms "$(jget "$RUNS/startup-$i.json" ready_ms)"
    log "  start-up with $((LIST_BIG + 1000)) objects: $(jget "$RUNS/startup-$i.json" ready_ms) ms"
  done
  mkdir -p "$TMP/empty"
  $GEN "$WOSD" bench startup --json --endpoint "http://127.0.0.1:$port" --idle 1 --log "$TMP/startup.log" -- \
    $SRV "$WOSD" serve --listen "127.0.0.1:$port" --data "$TMP/empty" >"$RUNS/startup-empty.json" 2>/dev/null
  single startup_empty_ms "$(jget "$RUNS/startup-empty.json" ready_ms)"
  single idle_rss_kib "$(jget "$RUNS/startup-empty.json" rss_idle_kib)"
fi

# --- memory -------------------------------------------------------------------------------------
if want memory; then
  # idle: a fresh server after one request and a second of rest (bench startup measures it)
  port=$(free_port)
  mkdir -p "$TMP/mem-idle"
  $GEN "$WOSD" bench startup --json --endpoint "http://127.0.0.1:$port" --idle 2 --log "$TMP/mem-idle.log" -- \
    $SRV "$WOSD" serve --listen "127.0.0.1:$port" --data "$TMP/mem-idle" >"$RUNS/mem-idle.json" 2>/dev/null
  single idle_rss_kib "$(jget "$RUNS/mem-idle.json" rss_idle_kib)"
  log "memory: idle RSS $(jget "$RUNS/mem-idle.json" rss_idle_kib) KiB"

  # 8 parallel large PUTs: VmRSS sampled every 50 ms, and VmHWM at the end
  start_wosd mem always
  before=$(rss_kib "$PID_mem")
  bench mem memput put --bucket memput --size "$MEM_PUT" --concurrency 8 --ops 8 --duration 0 --no-verify &
  bp=$!
  peak=0
  while kill -0 "$bp" 2>/dev/null; do
    r=$(rss_kib "$PID_mem"); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.05
  done
  wait "$bp"
  single put_rss_before_kib "$before"
  single put_rss_peak_kib "$peak"
  single put_hwm_kib "$(hwm_kib "$PID_mem")"
  log "memory: 8 parallel $MEM_PUT PUTs: RSS peak $peak KiB (VmHWM $(hwm_kib "$PID_mem") KiB; $(jget "$RUNS/memput.json" mib_per_s) MiB/s)"
  stop_wosd mem

  # 10,000 idle keep-alive connections
  start_wosd conns none --max-connections 20000
  bench conns idle-conns idle --concurrency "$IDLE_CONNS" --duration 15s &
  bp=$!
  peak=0
  while kill -0 "$bp" 2>/dev/null; do
    r=$(rss_kib "$PID_conns"); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  wait "$bp"
  single conns_rss_peak_kib "$peak"
  single conns_ok "$(jget "$RUNS/idle-conns.json" ops)"
  log "memory: $IDLE_CONNS idle connections ($(jget "$RUNS/idle-conns.json" ops) made): RSS peak $peak KiB"
  stop_wosd conns
  # the same for nginx, for reference (master + 2 workers)
  start_nginx conns
  bench nginx-conns idle-conns-ngx idle --concurrency "$IDLE_CONNS" --duration 15s &
  bp=$!
  peak=0
  while kill -0 "$bp" 2>/dev/null; do
    r=$(tree_rss_kib "$NGX_PID_conns"); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  wait "$bp"
  single nginx_conns_rss_peak_kib "$peak"
  stop_pid "$NGX_PID_conns"
fi

# --- the table ------------------------------------------------------------------------------------
python3 - "$OUT" "$QUICK" "$LIST_BIG" "$MEM_PUT" "$IDLE_CONNS" <<'EOF' | tee "$OUT/results.md"
import statistics, sys
out, quick, list_big, mem_put, idle_conns = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4], sys.argv[5]
pairs, single = {}, {}
def num(x):
    try:
        return float(x)
    except ValueError:
        return None
for line in open(out + "/pairs.tsv") if __import__("os").path.exists(out + "/pairs.tsv") else []:
    name, i, a, b = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    pairs.setdefault(name, []).append((num(a), num(b)))
for line in open(out + "/single.tsv") if __import__("os").path.exists(out + "/single.tsv") else []:
    k, v = line.rstrip("\n").split("\t")
    single.setdefault(k, []).append(num(v))

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def ratios(name, ref=None):
    r = []
    for a, b in pairs.get(name, []):
        if a is None or b is None:
            continue
        d = min(b, ref) if ref else b
        if d > 0:
            r.append(a / d)
    return r
def f(x, unit="", nd=0):
    if x is None:
        return "n/a"
    return ("{:,.%df}" % nd).format(x) + unit
def rng(r):
    return "%.2f (%.2f–%.2f)" % (statistics.median(r), min(r), max(r)) if r else "n/a"
def met(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")

print("| figure | wosd | reference | ratio: median (range) | target | |")
print("|---|---|---|---|---|---|")
rows = [
    ("get4k", "GET 4 KiB, 64 connections", " req/s", 0, "nginx", 0.9, "≥ 0.9 × nginx"),
    ("get64m", "GET 64 MiB, 8 connections", " MiB/s", 0, "nginx", 0.9, "≥ 0.9 × nginx"),
    ("put4k", "PUT 4 KiB, 64 conn., `--fsync always`", " req/s", 0, "nginx", 0.5, "≥ 0.5 × nginx"),
    ("put4k_none", "PUT 4 KiB, 64 conn., `--fsync none`", " req/s", 0, "nginx", 0.8, "≥ 0.8 × nginx"),
]
for key, label, unit, nd, refname, target, tdesc in rows:
    if key not in pairs:
        continue
    r = ratios(key)
    a = med([p[0] for p in pairs[key]]); b = med([p[1] for p in pairs[key]])
    print("| %s | %s | %s %s | %s | %s | %s |" % (label, f(a, unit, nd), refname, f(b, unit, nd), rng(r), tdesc,
                                                met(statistics.median(r) >= target if r else None)))
md5 = med(single.get("md5_mibs", []))
for key, where in (("put64m", "data on tmpfs"), ("put64m_disk", "on disk, for the record")):
    if key not in pairs:
        continue
    a = med([p[0] for p in pairs[key]]); b = med([p[1] for p in pairs[key]])
    r = ratios(key, md5)
    print("| PUT 64 MiB, 8 connections (%s) | %s | nginx %s; MD5 %s | %s of the lower; %s × nginx | ≥ 0.8 × min(nginx, MD5) | %s |" % (
        where, f(a, " MiB/s"), f(b, " MiB/s"), f(md5, " MiB/s"), rng(r), rng(ratios(key)),
        met(statistics.median(r) >= 0.8 if r else None) if key == "put64m" else "(informative)"))
if "initiate" in pairs:
    r = ratios("initiate")
    a = med([p[0] for p in pairs["initiate"]]); b = med([p[1] for p in pairs["initiate"]])
    print("| InitiateMultipartUpload, 64 connections | %s | wosd GET 4 KiB %s | %s | ≥ 0.7 × GET 4 KiB | %s |" % (
        f(a, " req/s"), f(b, " req/s"), rng(r), met(statistics.median(r) >= 0.7 if r else None)))
if "list" in pairs:
    r = ratios("list")
    a = med([p[0] for p in pairs["list"]]); b = med([p[1] for p in pairs["list"]])
    print("| ListObjectsV2 page of 1000, bucket of %s keys (p50, 1 connection) | %s | 1,000-key bucket %s | %s | p50 ≤ 5 ms and ≤ 1.5 × | %s |" % (
        f(list_big), f(a, " ms", 2), f(b, " ms", 2), rng(r),
        met(a is not None and a <= 5 and statistics.median(r) <= 1.5 if r else None)))
    ps = med(single.get("list_prepare_seconds", []))
    if ps:
        print("| (preparing the %s zero-byte keys over HTTP) | %s s | | %s PUT/s | | |" % (
            f(list_big), f(ps, "", 1), f(med(single.get("list_prepare_ops_per_s", [])))))
def mib(k):
    v = med(single.get(k, []))
    return None if v is None else v / 1024
if "idle_rss_kib" in single:
    v = mib("idle_rss_kib")
    print("| memory: idle RSS | %s | | | ≤ 32 MiB | %s |" % (f(v, " MiB", 1), met(v <= 32 if v is not None else None)))
if "put_rss_peak_kib" in single:
    v = mib("put_rss_peak_kib")
    print("| memory: RSS during 8 parallel %s PUTs (peak) | %s | VmHWM %s | | ≤ 128 MiB | %s |" % (
        mem_put, f(v, " MiB", 1), f(mib("put_hwm_kib"), " MiB", 1), met(v <= 128 if v is not None else None)))
if "conns_rss_peak_kib" in single:
    v = mib("conns_rss_peak_kib")
    print("| memory: %s idle keep-alive connections (%s made) | %s | nginx %s | | ≤ 256 MiB | %s |" % (
        idle_conns, f(med(single.get("conns_ok", []))), f(v, " MiB", 1), f(mib("nginx_conns_rss_peak_kib"), " MiB", 1),
        met(v <= 256 if v is not None else None)))
if "startup_ms" in single:
    v = med(single["startup_ms"])
    print("| start-up, data directory of %s objects (median of %d) | %s | empty directory %s | | ≤ 100 ms | %s |" % (
        f(list_big + 1000), len(single["startup_ms"]), f(v, " ms", 1), f(med(single.get("startup_empty_ms", [])), " ms", 1),
        met(v <= 100 if v is not None else None)))
if quick:
    print("\n(--quick: short runs and smaller data; not the record)")
EOF
log "results: $OUT/results.md; every run's JSON: $OUT/runs/; profiles: $OUT/perf/"
