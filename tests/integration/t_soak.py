#!/usr/bin/env python3
"""Soak: maildatd crawling 20 locations every second for SOAK_SECONDS
(default 600) while faults are injected, sampling the parent's memory and
open file descriptors.  It fails on growth.

Faults, in turn: one Samba is stopped for a while and started again (its
locations go unreachable, then ok), a hung server costs a deadline each
round, one tree is damaged and repaired, and the daemon is sent SIGHUP.

Not part of `make check` (it takes ten minutes): tools/check.sh runs it
once, and `python3 tests/integration/t_soak.py` runs it by hand, with
MAILDAT_BUILDDIR pointing at a build.  The samples are printed as TAP
diagnostics: the curve to record in bench/RESULTS.md for longer runs.
"""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECONDS = int(os.environ.get('SOAK_SECONDS', '600'))
SAMPLE = max(5, SECONDS // 60)
t = harness.Tap()


def nfds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def sqlite_kib(d):
    """SQLite's heap in the daemon, from its status."""
    try:
        return int((d.status(timeout=20) or {})['sqlite_memory_kib'])
    except (ValueError, KeyError):
        return -1


def mkpo(path, *args):
    harness.mkpo(*(args + (path,)))


def slope(points):
    """Least-squares slope of (x, y) points."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if den == 0 else \
        sum((x - mx) * (y - my) for x, y in points) / den


def main():
    with harness.suite(t, 'the soak runs maildatd as root with user = '
                       'nobody', prefix='maildat-soak-') as work:
        trees = {}
        for side in ('a', 'b'):
            for i in range(9):
                d = os.path.join(work, side, 'po%d' % i)
                mkpo(d, '-N', 'NET%s' % side.upper(), '-P', 'PO%d' % i,
                     '-s', '%d%d-%05d' % (i + 1, 2 if side == 'a' else 3,
                                          10000 + i),
                     '--route', 'NET%s/OTHER' % side.upper())
                trees['%s%d' % (side, i)] = d
        for root, dirs, _ in os.walk(work):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o755)
        with harness.Samba(os.path.join(work, 'sa'), shares={
                'po%d' % i: trees['a%d' % i] for i in range(9)}) as sa, \
                harness.Samba(os.path.join(work, 'sb'), shares={
                    'po%d' % i: trees['b%d' % i] for i in range(9)}) as sb, \
                harness.HungServer() as hung, \
                harness.SyslogReceiver(work) as slog:
            urls = [sa.url('po%d' % i) for i in range(9)] + \
                [sb.url('po%d' % i) for i in range(9)] + \
                [hung.url('MAILDAT$'),
                 'smb://127.0.0.1:%d/MAILDAT$' % harness.free_port()]
            daemon = harness.Daemon(
                work, 'soak', '[target soak]\n' + ''.join(
                    'url = %s\n' % u for u in urls),
                workers=4, syslog='unix:' + slog.path,
                extra_global='interval = 1s\ntimeout = 3s\n'
                'connect_timeout = 1s\nbackoff_max = 2s\n'
                'jobs_per_worker = 50\n')
            daemon.start(wait_started=False)
            start = time.monotonic()
            samples = []
            fault = 0
            next_sample = start + SAMPLE
            next_fault = start + 20
            while time.monotonic() - start < SECONDS:
                time.sleep(0.5)
                if not daemon.running():
                    break
                now = time.monotonic()
                if now >= next_fault:
                    # Faults in turn, each undone by the next round of them.
                    kind = fault % 4
                    if kind == 0:
                        sb.stop()
                    elif kind == 1:
                        sb.start()
                        mkpo(trees['a0'], '-N', 'NETA', '-P', 'PO0',
                             '-s', '12-10000', '--damage', 'master-short')
                    elif kind == 2:
                        shutil.rmtree(trees['a0'])
                        mkpo(trees['a0'], '-N', 'NETA', '-P', 'PO0',
                             '-s', '12-10000', '--route', 'NETA/OTHER')
                        os.chmod(trees['a0'], 0o755)
                    else:
                        daemon.signal(signal.SIGHUP)
                    fault += 1
                    next_fault = now + 15
                if now >= next_sample:
                    samples.append((now - start,
                                    harness.vmrss_kib(daemon.pid) or -1,
                                    nfds(daemon.pid), daemon.ncrawls(),
                                    sqlite_kib(daemon)))
                    next_sample = now + SAMPLE
            alive = daemon.running()
            t.ok(alive, 'the daemon ran for %d s under faults' % SECONDS,
                 diag=daemon.log()[-3000:])
            if sb.proc is None or sb.proc.poll() is not None:
                sb.start()
            rc = daemon.stop(timeout=30)
        t.eq(rc, 0, 'SIGTERM at the end: exit 0')
        for s in samples:
            t.diag('soak: t=%4.0f s  rss=%6d KiB  fds=%3d  crawls=%d  '
                   'sqlite=%d KiB' % s)
        steady = [s for s in samples if s[0] >= min(120, SECONDS / 5)]
        t.ok(len(steady) >= 3, '%d samples after the warm-up' % len(steady))
        if len(steady) >= 3:
            rss = [(x, r) for x, r, _, _, _ in steady]
            fds = [f for _, _, f, _, _ in steady]
            # SQLite's page cache (2 MiB at most) grows with the database:
            # judge the trend of RSS less SQLite's own heap.
            own = [(x, r - q) for x, r, _, _, q in steady if q >= 0]
            kib_per_hour = slope(own[len(own) // 2:]) * 3600 \
                if len(own) >= 4 else 0.0
            t.ok(len(own) == len(steady), 'status reported SQLite\'s heap '
                 'at every sample')
            t.diag('rss slope %.0f KiB/hour; fds %d..%d'
                   % (kib_per_hour, min(fds), max(fds)))
            t.ok(max(r for _, r in rss) - min(r for _, r in rss) < 4096,
                 'RSS stays within 4 MiB after the warm-up (%d..%d KiB)'
                 % (min(r for _, r in rss), max(r for _, r in rss)))
            t.ok(kib_per_hour < 2048,
                 'no growth trend of RSS less SQLite\'s heap in the second '
                 'half (%.0f KiB/hour)' % kib_per_hour)
            t.ok(max(fds) - min(fds) <= 8,
                 'open fds flat (%d..%d)' % (min(fds), max(fds)))
            done = steady[-1][3] - steady[0][3]
            t.ok(max(q for _, _, _, _, q in steady) < 4096,
                 'SQLite\'s heap stays under 4 MiB')
            span = steady[-1][0] - steady[0][0]
            t.ok(done > span * 5,
                 'crawls went on: %d in %.0f s' % (done, span))
        t.eq(daemon.integrity(), [('ok',)], 'integrity_check ok')


if __name__ == '__main__':
    main()
