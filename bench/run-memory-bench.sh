#!/bin/sh
# Memory: the parent's RSS with 10,000 known postoffices, and its RSS and
# open file descriptors over 100,000 crawls.
#
#	sh bench/run-memory-bench.sh [BUILD-DIR] [-- options]
#
# Options: -n LOCATIONS (10000) -c CRAWLS (100000) -T MAX-SECONDS (900)
#          -i SAMPLE-SECONDS (5) -w WORKERS (default: maildatd's) -k (keep)
#
# One private smbd on 127.0.0.1 (bench/smbfarm.py) serves one share MAIL
# holding LOCATIONS postoffice folders written by mkpostoffice (2 routes
# each); every folder is a location of its own (one url = line each, so
# LOCATIONS locations in the configuration and, after the first round, in
# the database).  maildatd -d runs with interval = 1s, so that every
# location is due again as soon as it was crawled: it crawls as fast as it
# can, round after round.  Every SAMPLE-SECONDS the script records, from
# /proc, maildatctl status and the database (read-only): crawls so far,
# locations known to the database, the parent's VmRSS and VmHWM, its open
# fds (entries of /proc/PID/fd), the workers alive and their total RSS,
# and the database size.  It stops at CRAWLS crawls or after MAX-SECONDS,
# whichever comes first, then prints the curve (every sample in
# WORK/samples.csv, kept with -k), the parent's RSS at the first sample
# with all LOCATIONS known, the peak, and the slopes of RSS and fds over
# the crawls from that sample on, and over the second half of them (least
# squares).
# Needs root (smbd; maildatd then runs as nobody).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
bench_build_dir "$@"
shift "$BENCH_NARGS"
N=10000 CRAWLS=100000 MAXT=900 SAMPLE=5 WORKERS='' KEEP=0
while getopts n:c:T:i:w:k opt; do
	case $opt in
	n) N=$OPTARG ;;
	c) CRAWLS=$OPTARG ;;
	T) MAXT=$OPTARG ;;
	i) SAMPLE=$OPTARG ;;
	w) WORKERS=$OPTARG ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [BUILD-DIR] [-- -n N -c N -T S -i S -w N -k]" >&2
	   exit 2 ;;
	esac
done
MAILDATD=$(bench_program maildatd)
MAILDATCTL=$(bench_program maildatctl)

work=$(mktemp -d /tmp/memory-bench.XXXXXX)
chmod 755 "$work"
farm='' daemon=''
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null || :
		wait "$daemon" 2>/dev/null || :
	fi
	if [ -n "$farm" ]; then
		kill -TERM "$farm" 2>/dev/null || :
		wait "$farm" 2>/dev/null || :
	fi
	if [ "$KEEP" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "run-memory-bench: $N locations, up to $CRAWLS crawls or $MAXT s," \
    "a sample every $SAMPLE s; in $work"
python3 "$SRC/bench/smbfarm.py" "$BUILD" "$work/farm" --servers 1 \
    --folders "$N" >"$work/farm.log" 2>&1 &
farm=$!
i=0
while [ ! -f "$work/farm/ready" ]; do
	kill -0 "$farm" 2>/dev/null || { cat "$work/farm.log" >&2; exit 1; }
	i=$((i + 1))
	[ $i -lt 2400 ] || { echo "smbd farm: no start in 20 min" >&2; exit 1; }
	sleep 0.5
done

mkdir "$work/db"
chown nobody "$work/db" 2>/dev/null || chmod 777 "$work/db"
{
	printf '[maildatd]\ndatabase = %s/db/maildat.db\n' "$work"
	printf 'user = nobody\ncontrol_socket = %s/db/control.sock\n' "$work"
	printf 'syslog = udp:127.0.0.1:9\ninterval = 1s\n'
	if [ -n "$WORKERS" ]; then printf 'workers = %s\n' "$WORKERS"; fi
	printf '[target estate]\n'
	sed 's/^/url = /' "$work/farm/urls"
} >"$work/maildatd.conf"

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
    /proc/cpuinfo | head -1), $(awk '/MemTotal/ {print $2, $3}' \
    /proc/meminfo) memory, Linux $(uname -r)"
echo "start: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
"$MAILDATD" -d -c "$work/maildatd.conf" >"$work/maildatd.log" 2>&1 &
daemon=$!

python3 - "$daemon" "$MAILDATCTL" "$work" "$CRAWLS" "$MAXT" "$SAMPLE" "$N" \
    <<'EOF'
import os, sqlite3, subprocess, sys, time
pid, ctl, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
crawls_max, tmax, step, n = (int(sys.argv[4]), float(sys.argv[5]),
                             float(sys.argv[6]), int(sys.argv[7]))
conf = os.path.join(work, 'maildatd.conf')
db = os.path.join(work, 'db', 'maildat.db')


def status_kib(p, key):
    try:
        with open('/proc/%d/status' % p) as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers():
    """Pids whose parent is the daemon."""
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    st = f.read()
                if int(st[st.rindex(')') + 2:].split()[1]) == pid:
                    out.append(int(d))
            except (OSError, ValueError):
                pass
    return out


def status():
    r = subprocess.run([ctl, '-c', conf, 'status'], capture_output=True,
                       text=True, timeout=30)
    kv = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(': ')
        kv[k] = v
    return kv


def known():
    """Locations in the database (each crawled at least once)."""
    try:
        c = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=5)
        try:
            return c.execute('SELECT count(*) FROM location').fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return -1


t0 = time.monotonic()
samples = []
first_round = None
with open(os.path.join(work, 'samples.csv'), 'w') as out:
    out.write('seconds,crawls,rss_kib,hwm_kib,fds,workers,workers_rss_kib,'
              'db_bytes,known\n')
    while True:
        time.sleep(step)
        if not os.path.exists('/proc/%d' % pid):
            sys.exit('maildatd died; see %s/maildatd.log' % work)
        try:
            kv = status()
        except subprocess.TimeoutExpired:
            kv = {}
        crawls = sum(int(v) for k, v in kv.items()
                     if k.startswith('crawls_'))
        w = workers()
        dbb = sum(os.path.getsize(db + s) for s in ('', '-wal')
                  if os.path.exists(db + s))
        try:
            fds = len(os.listdir('/proc/%d/fd' % pid))
        except OSError:
            fds = 0
        s = (round(time.monotonic() - t0, 1), crawls,
             status_kib(pid, 'VmRSS'), status_kib(pid, 'VmHWM'), fds,
             len(w), sum(status_kib(p, 'VmRSS') for p in w), dbb, known())
        samples.append(s)
        out.write(','.join(map(str, s)) + '\n')
        out.flush()
        if first_round is None and s[8] >= n:
            first_round = s
        if crawls >= crawls_max or s[0] >= tmax:
            break

print('samples (every %g s; all of them in samples.csv):' % step)
print('  %8s %8s %8s %9s %9s %5s %8s %12s %10s' % (
    'seconds', 'crawls', 'known', 'RSS KiB', 'HWM KiB', 'fds', 'workers',
    'workers KiB', 'db MiB'))
k = max(1, len(samples) // 30)
for s in samples[::k] + ([samples[-1]] if (len(samples) - 1) % k else []):
    print('  %8.0f %8d %8d %9d %9d %5d %8d %12d %10.1f' % (
        s[0], s[1], s[8], s[2], s[3], s[4], s[5], s[6], s[7] / 1048576))
last = samples[-1]
print('crawls: %d in %.0f s (%.0f/s)' % (last[1], last[0],
                                          last[1] / last[0]))
if first_round:
    print('all %d locations known by %.0f s (%d crawls): parent RSS %d KiB '
          '(%.1f MiB), fds %d' % (n, first_round[0], first_round[1],
                                   first_round[2], first_round[2] / 1024,
                                   first_round[4]))
print('parent peak RSS (VmHWM) %d KiB (%.1f MiB): %s 64 MiB' % (
    last[3], last[3] / 1024, 'under' if last[3] < 65536 else 'NOT under'))


def slope(pts):
    if len(pts) < 3:
        return float('nan')
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else 0


after = [s for s in samples if first_round and s[0] >= first_round[0]]
if len(after) >= 3:
    print('from then on (%d samples, %d to %d crawls):' % (
        len(after), after[0][1], after[-1][1]))
    print('  RSS %d to %d KiB (min %d, max %d), slope %+.1f KiB per '
          '10,000 crawls' % (after[0][2], after[-1][2],
                             min(s[2] for s in after),
                             max(s[2] for s in after),
                             1e4 * slope([(s[1], s[2]) for s in after])))
    print('  fds %d to %d (min %d, max %d), slope %+.2f per 10,000 crawls'
          % (after[0][4], after[-1][4], min(s[4] for s in after),
             max(s[4] for s in after),
             1e4 * slope([(s[1], s[4]) for s in after])))
    half = after[len(after) // 2:]
    print('  second half: RSS slope %+.1f KiB per 10,000 crawls, fds '
          'slope %+.2f' % (1e4 * slope([(s[1], s[2]) for s in half]),
                           1e4 * slope([(s[1], s[4]) for s in half])))
EOF
echo "end: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c 'import sqlite3,sys
c=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print("database: %d locations, %d with a postoffice, %d crawls" %
      c.execute("SELECT (SELECT count(*) FROM location), (SELECT count(*) "
                "FROM location WHERE serial_raw IS NOT NULL), (SELECT "
                "count(*) FROM crawl)").fetchone())' "$work/db/maildat.db"
