#!/usr/bin/env python3
"""Integration test of the maildatd daemon against private Samba servers.

Runs the real maildatd (as root, dropping to 'nobody') in the foreground
(-d, log to stderr) with configurations written here, against two private
smbd instances serving postoffices written by mkpostoffice, a TCP listener
that never speaks SMB (HungServer) and a port where nothing listens.  It
reads what the daemon did from its database (the crawls view through
maildatctl, and the crawl table's microsecond times directly), its log and
its control socket.

Cases:
  config      -n: a good file, unknown key and bad duration (file:line,
              exit 2), an auth file of mode 0644
  once        --once over two servers, a hung one and a closed port: exit
              status, outcomes, and the hung server costs one deadline
  schedule    interval = 2s: rounds on time, never two crawls of one
              location at once
  reload      SIGHUP with a good and with a bad file; maildatctl reload
  sigterm     SIGTERM while a crawl hangs: clean exit within the deadline,
              no workers left, database sound, control socket removed
  worker      a worker SIGKILLed mid-job: error crawl, replacement
  control     status fields and json; socket mode; peers refused
  privileges  parent and workers run as nobody; the password is nowhere to
              be seen; a reload keeps root-only credentials
  respawn     a worker that cannot start is not respawned in a tight loop
  names       names resolve through NSS (nss_wrapper, not /etc/hosts nor
              DNS): a name only it knows is crawled ok by the probe and the
              worker alike; a name whose first address is dead and second
              alive is ok; a name it does not know is unreachable
  memory      valgrind --once over 20 URLs; then, side by side, an RSS
              check of the parent over 40 s of crawls and a valgrind run
              of about 1000 crawls

Known product limitations are TODO lines (they count as XPASS, i.e. as a
failure in tools/check.sh, once fixed: then drop the todo= argument).

maildatd starts its workers with execv("/proc/self/exe"), which under
valgrind is the valgrind tool itself, so the workers cannot start there
(a TODO line shows it).  The valgrind cases therefore preload a small
shim, compiled here, that turns that execv into one of the maildatd
binary; the workers then run natively (--trace-children=no) and only the
parent is checked.

Prints TAP for automake's tap-driver.sh.  Needs root (smbd, useradd,
privilege drop).  Every process started here is stopped in a finally
block; the harness watchdog catches the rest if this script is killed.
"""

import json
import os
import pwd
import random
import re
import shutil
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402
from harness import (Daemon, alive, loc, make_readable, mkpo,  # noqa: E402
                     our_workers, proc_stat, proc_status, run_dirs,
                     stop_all_daemons, target, vmrss_kib, wait_until,
                     worker_pids, write_auth, is_asan)

t = harness.Tap()
MAILDATD = harness.tool('maildatd')
CTL = harness.tool('maildatctl')

USER = 'mdtest1'
# Random per run, so that finding it anywhere cannot be a coincidence.
PASSWORD = 'mdPw-%08x-Q7' % random.getrandbits(32)
OTHER_USER = 'mdtest2'          # neither root nor the daemon's user
NOBODY = pwd.getpwnam('nobody')


# ---------------------------------------------------------------------------
# Helpers (the common ones are harness.py's)
# ---------------------------------------------------------------------------

def ids(pid):
    """{'Uid': [r, e, s, fs], 'Gid': [...], 'Groups': [...]} of PID."""
    st = proc_status(pid)
    return dict((k, [int(v) for v in st.get(k, '').split()])
                for k in ('Uid', 'Gid', 'Groups'))


def established_inodes(port):
    """Inodes of ESTABLISHED TCP sockets whose remote port is PORT."""
    inodes = set()
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == '01' and \
                            int(cols[2].rsplit(':', 1)[1], 16) == port:
                        inodes.add('socket:[%s]' % cols[9])
        except OSError:
            pass
    return inodes


def pids_connected_to(pids, port):
    """The PIDS holding an established TCP connection to PORT."""
    inodes = established_inodes(port)
    found = []
    for pid in pids:
        fddir = '/proc/%d/fd' % pid
        try:
            links = [os.readlink(os.path.join(fddir, fd))
                     for fd in os.listdir(fddir)]
        except OSError:
            continue
        if inodes.intersection(links):
            found.append(pid)
    return found


def statedirs():
    """libsmbclient state directories left by a daemon running as nobody:
    its run directory /tmp/maildatd.XXXXXX (workers keep theirs inside),
    or a /tmp/maildat-smb.XXXXXX of a process with none."""
    return run_dirs(NOBODY.pw_uid, ('maildat-smb.', 'maildatd.'))


def tidy_statedirs(before):
    """Remove the empty state directories that appeared since BEFORE
    (left by SIGKILLed workers; a live worker's holds its smb.conf) and
    belong to daemons of this script: the run directory of another suite's
    daemon running beside this one may be empty for a moment too."""
    ours = tuple('/tmp/maildatd.%d.' % pid for d in harness.daemons()
                 for pid in d.pids)
    for path in statedirs() - before:
        if not path.startswith(ours):
            continue
        try:
            os.rmdir(path)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def case_config(env):
    work = env['work']
    auth = os.path.join(work, 'cfg.auth')
    write_auth(auth, USER, PASSWORD, 0o600)
    good = os.path.join(work, 'good.conf')
    with open(good, 'w') as f:
        f.write('[maildatd]\ndatabase = %s/x.db\ninterval = 5m\n'
                'timeout = 30s\nuser = nobody\n'
                '[credentials corp]\nauth_file = %s\n'
                '[target a]\nurl = %s\ncredentials = corp\n'
                'protocol = NT1 SMB3\n' % (work, auth, env['a'].url('priv')))
    res = harness.run([MAILDATD, '-n', '-c', good], timeout=30)
    t.eq((res.returncode, res.stdout), (0, 'configuration OK\n'),
         '-n, good file: exit 0, "configuration OK"', diag=str(res))
    t.ok(PASSWORD not in res.stdout + res.stderr,
         '-n, good file: the password is not printed')

    bad = os.path.join(work, 'bad.conf')
    with open(bad, 'w') as f:
        f.write('[maildatd]\n'                      # 1
                'database = %s/x.db\n'              # 2
                'colour = blue\n'                   # 3: unknown key
                'interval = soon\n'                 # 4: bad duration
                '[target a]\n'                      # 5
                'url = %s\n'                        # 6
                'timeout = 3 fortnights\n'          # 7: bad duration
                % (work, env['a'].url('MAILDAT$')))
    res = harness.run([MAILDATD, '-n', '-c', bad], timeout=30)
    t.eq((res.returncode, res.stdout), (2, ''),
         '-n, bad file: exit 2, nothing on stdout', diag=str(res))
    t.like(res.stderr, re.escape("%s:3: unknown key 'colour' in [maildatd]"
                                 % bad), '-n: unknown key at file:3')
    t.like(res.stderr, re.escape("%s:4: interval: bad duration 'soon'" % bad),
           '-n: bad duration at file:4')
    t.like(res.stderr, re.escape("%s:7: timeout: bad duration" % bad),
           '-n: every error is reported (file:7 too)')
    t.ok('configuration OK' not in res.stdout + res.stderr,
         '-n, bad file: no "configuration OK"')

    loose = os.path.join(work, 'loose.auth')
    write_auth(loose, USER, PASSWORD, 0o644)
    conf = os.path.join(work, 'loose.conf')
    with open(conf, 'w') as f:
        f.write('[maildatd]\ndatabase = %s/x.db\n'      # 1, 2
                '[credentials corp]\n'                  # 3
                'auth_file = %s\n'                      # 4
                '[target a]\nurl = %s\ncredentials = corp\n'
                % (work, loose, env['a'].url('priv')))
    res = harness.run([MAILDATD, '-n', '-c', conf], timeout=30)
    t.eq((res.returncode, res.stdout), (2, ''),
         '-n, auth file mode 0644: refused, exit 2', diag=str(res))
    t.like(res.stderr, re.escape('%s:4: credentials corp: %s: mode 0644 is '
                                 'too open' % (conf, loose)),
           '-n, auth file mode 0644: says which file and why')
    t.ok(PASSWORD not in res.stdout + res.stderr,
         '-n, auth file mode 0644: the password is not printed')


def case_once(env):
    a, b, hung = env['a'], env['b'], env['hung']
    closed = harness.free_port()
    d = Daemon(env['work'], 'once',
               target('a', a.url('MAILDAT$')) +
               target('b', b.url('MAILDAT$')) +
               target('hung', hung.url('MAILDAT$')) +
               target('closed', 'smb://127.0.0.1:%d/MAILDAT$' % closed),
               workers=4, extra_global='timeout = 3s\nconnect_timeout = 2s\n')
    try:
        before = hung.connections
        d.start('--once')
        rc = d.wait(30)
        elapsed = time.monotonic() - d.started_at
    finally:
        d.stop()
    t.eq(rc, 1, '--once: exit 1 (some crawls failed)', diag=d.log())
    t.ok(elapsed < 3 + 3, '--once: the round took %.2f s, less than the 3 s '
         'timeout + 3 s' % elapsed, diag=d.log())
    t.ok(hung.connections > before, '--once: the hung server was contacted')

    res = d.ctl('--format', 'json', 'query',
                'SELECT location, outcome, error, address, serial '
                'FROM crawls ORDER BY id')
    rows = json.loads(res.stdout) if res.returncode == 0 else []
    got = sorted((r['location'], r['outcome']) for r in rows)
    want = sorted([(loc(a.port, 'MAILDAT$'), 'ok'),
                   (loc(b.port, 'MAILDAT$'), 'ok'),
                   (loc(hung.port, 'MAILDAT$'), 'timeout')])
    t.eq(got, want, '--once: crawls view: ok, ok, timeout (the address '
         'that never answered makes no crawl row)', diag=str(res))
    by = dict((r['location'], r) for r in rows)
    ra = by.get(loc(a.port, 'MAILDAT$'), {})
    t.eq((ra.get('address'), ra.get('serial')), ('CORP/HQ', '22-28798'),
         '--once: server A identity recorded')
    rb = by.get(loc(b.port, 'MAILDAT$'), {})
    t.eq(rb.get('address'), 'CORP/BRANCH', '--once: server B identity')
    res = d.ctl('--format', 'json', 'query',
                'SELECT last_outcome AS outcome, last_error AS error, '
                'silent_crawls FROM locations WHERE location = \'%s\''
                % loc(closed, 'MAILDAT$'))
    rc_ = (json.loads(res.stdout) if res.returncode == 0 else [{}]) or [{}]
    rc_ = rc_[0]
    t.eq((rc_.get('outcome'), rc_.get('silent_crawls')), ('unreachable', 1),
         '--once: the closed port is on the locations view, unreachable, '
         'its crawl counted there', diag=str(res))
    t.like(rc_.get('error') or '', 'Connection refused',
           '--once: unreachable says Connection refused')

    raw = dict((r[1], r) for r in d.crawls())
    h = raw.get(loc(hung.port, 'MAILDAT$'))
    goods = [raw.get(loc(a.port, 'MAILDAT$')), raw.get(loc(b.port,
                                                           'MAILDAT$'))]
    if h is None or None in goods:
        t.ok(False, '--once: crawl rows present', diag=repr(raw))
        return
    hung_s = (h[3] - h[2]) / 1e6
    t.ok(1.5 <= hung_s <= 3.5, '--once: the hung crawl lasted about one '
         'deadline (%.2f s)' % hung_s)
    t.ok(all(g[3] < h[3] for g in goods), '--once: A and B finished before '
         'the hung crawl', diag=repr(raw))
    t.ok(all((g[3] - g[2]) / 1e6 < 1.5 for g in goods),
         '--once: A and B took under 1.5 s each (%s)'
         % ', '.join('%.3f s' % ((g[3] - g[2]) / 1e6) for g in goods))


def case_schedule(env):
    a, b = env['a'], env['b']
    d = Daemon(env['work'], 'sched',
               target('a', a.url('MAILDAT$')) +
               target('b', b.url('MAILDAT$')),
               extra_global='interval = 2s\ntimeout = 5s\n')
    dirs_before = statedirs()
    try:
        d.start()
        time.sleep(max(0, 7.0 - (time.monotonic() - d.started_at)))
        rc = d.stop()
    finally:
        d.stop()
    t.eq(rc, 0, 'schedule: SIGTERM, exit 0', diag=d.log())
    # The workers were idle: the stop closes their sockets, and they
    # should have the time to exit and remove their state directory.
    time.sleep(0.3)
    # Only this daemon's run directory (/tmp/maildatd.PID.*): other
    # daemons run beside this test under make -j.
    left = sorted(p for p in statedirs() - dirs_before
                  if os.path.basename(p).startswith('maildatd.%d.' % d.pid))
    t.ok(not left, 'schedule: idle workers stopped by SIGTERM removed their '
         'state, and the daemon its /tmp/maildatd.PID.* directory', diag='left behind: %r' % left)
    rows = d.crawls()
    for name, l in (('A', loc(a.port, 'MAILDAT$')),
                    ('B', loc(b.port, 'MAILDAT$'))):
        mine = [r for r in rows if r[1] == l]
        t.ok(3 <= len(mine) <= 5, 'schedule: %d crawls of %s in 7 s at '
             'interval 2s (3 to 5)' % (len(mine), name), diag=repr(rows))
        t.eq([r[4] for r in mine], ['ok'] * len(mine),
             'schedule: every crawl of %s ok' % name)
        overlaps = [(p[0], n[0]) for p, n in zip(mine, mine[1:])
                    if n[2] < p[3]]
        t.eq(overlaps, [], 'schedule: no two crawls of %s overlap' % name)
        gaps = [(n[2] - p[3]) / 1e6 for p, n in zip(mine, mine[1:])]
        t.ok(gaps and all(1.8 <= g <= 2.7 for g in gaps),
             'schedule: %s waits the interval (+-5%%, tick) between crawls: '
             '%s' % (name, ' '.join('%.2f' % g for g in gaps)))


def case_reload(env):
    a, b = env['a'], env['b']
    la, lb = loc(a.port, 'MAILDAT$'), loc(b.port, 'MAILDAT$')
    lc = loc(a.port, 'many', 'PO01')
    ta = target('a', a.url('MAILDAT$'))
    tb = target('b', b.url('MAILDAT$'))
    tc = target('c', a.url('many', 'PO01'))
    g = 'interval = 1s\ntimeout = 5s\n'
    d = Daemon(env['work'], 'reload', ta, extra_global=g)
    try:
        d.start()
        t.ok(wait_until(lambda: d.count(la) >= 1, 10),
             'reload: A crawled before the reload')
        s1 = d.status() or {}
        t.eq(s1.get('locations'), '1', 'reload: 1 location at start')
        time.sleep(1.1)         # config_loaded has a resolution of 1 s

        # -- SIGHUP, good file with one more target ------------------------
        d.write_conf(ta + tb)
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: d.count(lb) >= 1, 10),
             'reload: SIGHUP with a target added: B is crawled',
             diag=d.log())
        s2 = d.status() or {}
        t.ok(s2.get('config_loaded', '') > s1.get('config_loaded', '~'),
             'reload: status config_loaded moved on (%s -> %s)'
             % (s1.get('config_loaded'), s2.get('config_loaded')))
        t.eq((s2.get('locations'), s2.get('started')),
             ('2', s1.get('started')),
             'reload: status: 2 locations, same start time')
        t.like(d.log(), r'configuration reloaded: 2 targets',
               'reload: logged "configuration reloaded: 2 targets"')

        # -- SIGHUP, bad file ----------------------------------------------
        text = d.conf_text(ta + tb + tc, extra_global=g + 'bogus_key = 1\n')
        bad_line = text.splitlines().index('bogus_key = 1') + 1
        d.write_conf(None, raw=text)
        d.signal(signal.SIGHUP)
        err = "%s:%d: unknown key 'bogus_key' in [maildatd]" % (d.conf,
                                                              bad_line)
        t.ok(wait_until(lambda: 'configuration not reloaded' in d.log(), 5),
             'reload: SIGHUP with an unknown key: "configuration not '
             'reloaded" logged', diag=d.log())
        t.ok(err in d.log(), 'reload: the error is logged as file:line',
             diag=d.log())
        t.ok(d.running(), 'reload: the daemon keeps running')
        na, nb = d.count(la), d.count(lb)

        res = d.ctl('reload')
        t.eq((res.returncode, res.stdout), (1, ''),
             'reload: maildatctl reload with the bad file: exit 1',
             diag=str(res))
        t.ok('configuration not reloaded' in res.stderr and err in res.stderr,
             'reload: maildatctl reload prints the errors', diag=str(res))
        t.ok(wait_until(lambda: d.count(la) > na and d.count(lb) > nb, 6),
             'reload: the old targets A and B are still crawled')
        s3 = d.status() or {}
        t.eq((s3.get('config_loaded'), s3.get('locations')),
             (s2.get('config_loaded'), '2'),
             'reload: status: config_loaded and locations unchanged')
        t.eq(d.count(lc), 0, 'reload: the target of the bad file is never '
             'crawled')

        # -- maildatctl reload, good file again ---------------------------
        d.write_conf(ta + tb)
        res = d.ctl('reload')
        t.eq((res.returncode, res.stdout),
             (0, 'configuration reloaded: 2 targets\n'),
             'reload: maildatctl reload with a good file: exit 0',
             diag=str(res))
        rc = d.stop()
        t.eq(rc, 0, 'reload: SIGTERM, exit 0', diag=d.log())
    finally:
        d.stop()


def hung_daemon(env, name, timeout):
    """A daemon (2 workers) with a target on the hung server (TIMEOUT)
    and one on A."""
    a, hung = env['a'], env['hung']
    return Daemon(env['work'], name,
                  target('hung', hung.url('MAILDAT$'), timeout=timeout) +
                  target('a', a.url('MAILDAT$')),
                  workers=2, extra_global='interval = 1h\n')


def talking_to(d, port):
    """The workers of D talking to PORT (waiting up to 10 s for one)."""
    return wait_until(lambda: pids_connected_to(worker_pids(d.pid), port),
                      10, 0.05)


def case_sigterm(env):
    hung = env['hung']
    d = hung_daemon(env, 'term', '4s')
    try:
        d.start()
        busy = talking_to(d, hung.port)
        t.ok(busy, 'sigterm: a worker is talking to the hung server')
        workers = worker_pids(d.pid)
        t.eq(len(workers), 2, 'sigterm: 2 workers before SIGTERM')
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait(4 + 2 + 5)
        took = time.monotonic() - t0
    finally:
        d.stop()
    t.eq(rc, 0, 'sigterm: exit 0', diag=d.log())
    t.ok(took <= 4 + 2, 'sigterm: exited %.2f s after SIGTERM (deadline 4 s '
         '+ 2 s)' % took, diag=d.log())
    left = wait_until(lambda: not [p for p in workers if alive(p)], 2)
    t.ok(left, 'sigterm: none of the workers %s is left' % workers,
         diag=lambda: repr([(p, proc_stat(p)) for p in workers]))
    t.eq(our_workers(), [], 'sigterm: no maildatd --worker process of this '
         'test is running')
    t.ok(not os.path.exists(d.sock), 'sigterm: control socket removed')
    t.eq(d.integrity(), [('ok',)], 'sigterm: database passes '
         'integrity_check')
    t.eq([(r[1], r[4]) for r in d.crawls() if r[1] == loc(hung.port,
                                                          'MAILDAT$')],
         [(loc(hung.port, 'MAILDAT$'), 'timeout')],
         'sigterm: the crawl under way was finished and recorded (timeout)')


def case_worker_killed(env):
    lh = loc(env['hung'].port, 'MAILDAT$')
    d = hung_daemon(env, 'wkill', '10s')
    try:
        d.start()
        busy = talking_to(d, env['hung'].port)
        before = worker_pids(d.pid)
        if len(busy) != 1:
            t.ok(False, 'worker: exactly one worker busy with the hung '
                 'server', diag='busy %r, workers %r' % (busy, before))
            return
        victim = busy[0]
        t0 = time.monotonic()
        kill_us = int(time.time() * 1e6)
        os.kill(victim, signal.SIGKILL)
        rows = wait_until(lambda: [r for r in d.crawls() if r[1] == lh], 8)
        took = time.monotonic() - t0
        t.ok(d.running(), 'worker: the daemon survives a worker SIGKILL')
        t.eq([r[4] for r in rows], ['error'],
             'worker: one crawl of the hung location, outcome error',
             diag=d.log())
        t.like(rows[0][5] if rows else '', r'worker died.*signal 9',
               'worker: the error says the worker died (signal 9)')
        t.ok(took < 5, 'worker: recorded %.2f s after the kill, long before '
             'the 10 s deadline' % took)
        t.ok(rows and rows[0][2] < kill_us,
             'worker: the error crawl started before the kill',
             diag='started_us %s, finished_us %s, killed at %d'
             % (rows and rows[0][2], rows and rows[0][3], kill_us))
        t.like(d.log(), r'worker %d killed by signal 9 during smb://' % victim,
               'worker: the death is logged')
        st = d.status() or {}
        t.ok(int(st.get('workers_replaced', 0)) >= 1,
             'worker: status workers_replaced >= 1 (%s)'
             % st.get('workers_replaced'), diag=repr(st))
        t.eq((st.get('workers'), st.get('workers_alive')), ('2', '2'),
             'worker: status workers_alive equals workers (2)')
        after = wait_until(lambda: len(worker_pids(d.pid)) == 2 and
                           worker_pids(d.pid), 3)
        t.ok(after and victim not in after and len(after) == 2,
             'worker: 2 live workers, the killed one replaced (%r -> %r)'
             % (before, after))
        rc = d.stop()
        t.eq(rc, 0, 'worker: SIGTERM afterwards, exit 0', diag=d.log())
    finally:
        d.stop()


def case_control_and_privileges(env):
    """One daemon, with credentials, for the control socket and the
    privilege cases."""
    a = env['a']
    work = env['work']
    auth = os.path.join(work, 'good.auth')
    write_auth(auth, USER, PASSWORD, 0o600)      # root-owned: not nobody's
    lp = loc(a.port, 'priv')
    la = loc(a.port, 'MAILDAT$')
    d = Daemon(work, 'priv',
               '[credentials corp]\nauth_file = %s\n' % auth +
               target('priv', a.url('priv'), credentials='corp') +
               target('a', a.url('MAILDAT$')),
               workers=3, extra_global='interval = 1s\ntimeout = 5s\n')
    try:
        d.start('-v', '-v')
        t.ok(wait_until(lambda: d.count(lp, 'ok') >= 1 and
                        d.count(la, 'ok') >= 1, 10),
             'control: both locations crawled ok (with and without '
             'credentials)', diag=lambda: repr(d.crawls()) + d.log())
        t.run(control_cases, 'control socket cases', d)
        t.run(privilege_cases, 'privilege cases', d, lp)
        rc = d.stop()
        t.eq(rc, 0, 'privileges: SIGTERM, exit 0', diag=d.log())
        blob = d.db_bytes()
        t.ok(len(blob) > 0 and PASSWORD.encode() not in blob and
             PASSWORD.encode('utf-16-le') not in blob,
             'privileges: the password is not in the database files')
        t.ok(PASSWORD not in d.log(),
             'privileges: the password is not in the daemon\'s log (-v -v)')
    finally:
        d.stop()


def control_cases(d):
    res = d.ctl('status')
    t.eq(res.returncode, 0, 'control: maildatctl status: exit 0',
         diag=str(res))
    fields = dict(l.split(': ', 1) for l in res.stdout.splitlines()
                  if ': ' in l)
    for key in ('version', 'pid', 'workers', 'locations', 'crawls_ok'):
        t.ok(key in fields, 'control: status has %s' % key,
             diag=res.stdout)
    version = harness.run([MAILDATD, '--version']).stdout.split()[-1]
    t.eq((fields.get('version'), fields.get('pid'), fields.get('workers'),
          fields.get('locations')), (version, str(d.pid), '3', '2'),
         'control: status version, pid, workers 3, locations 2')
    t.ok(int(fields.get('crawls_ok', '0')) >= 2,
         'control: crawls_ok counts the ok crawls (%s)'
         % fields.get('crawls_ok'))
    res = d.ctl('--format', 'json', 'status')
    try:
        rows = json.loads(res.stdout)
    except ValueError:
        rows = None
    t.ok(isinstance(rows, list) and len(rows) == 1 and
         rows[0].get('pid') == str(d.pid) and 'crawls_ok' in rows[0],
         'control: status --format json parses into one record',
         diag=str(res))

    st = os.stat(d.sock)
    t.eq((stat.S_ISSOCK(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
          st.st_gid), (True, 0o660, NOBODY.pw_uid, NOBODY.pw_gid),
         'control: socket mode 0660, owned by nobody:nogroup')

    res = d.ctl('status', user='nobody')
    t.eq(res.returncode, 0, 'control: the daemon\'s user may ask for status',
         diag=str(res))
    harness._ensure_unix_user(OTHER_USER)
    other = pwd.getpwnam(OTHER_USER)
    res = d.ctl('status', user=OTHER_USER)
    t.eq((res.returncode, res.stdout), (1, ''),
         'control: %s (not root, not nobody) is refused: exit 1'
         % OTHER_USER, diag=str(res))
    t.like(res.stderr, r'Permission denied',
           'control: ... by the socket\'s mode (Permission denied)')
    # Past the file mode, the daemon checks the peer itself.
    os.chmod(d.sock, 0o666)
    try:
        res = d.ctl('status', user=OTHER_USER)
    finally:
        os.chmod(d.sock, 0o660)
    t.eq((res.returncode, res.stdout), (1, ''),
         'control: socket made 0666: %s still refused, exit 1' % OTHER_USER,
         diag=str(res))
    t.like(d.log(), r'control: refused peer uid %d' % other.pw_uid,
           'control: the daemon logs the refused peer')
    res = d.ctl('frobnicate')
    t.eq(res.returncode, 2, 'control: unknown maildatctl command: exit 2')


def privilege_cases(d, lp):
    workers = worker_pids(d.pid)
    t.eq(len(workers), 3, 'privileges: 3 workers running', diag=d.log())
    u, g = NOBODY.pw_uid, NOBODY.pw_gid
    for what, pid in [('parent', d.pid)] + [('worker %d' % p, p)
                                             for p in workers]:
        try:
            got = ids(pid)
        except OSError as e:
            t.ok(False, 'privileges: %s ids' % what, diag=str(e))
            continue
        t.eq((got.get('Uid'), got.get('Gid'), got.get('Groups')),
             ([u] * 4, [g] * 4, [g]),
             'privileges: %s runs as nobody:nogroup, no other groups' % what)
        for name in ('cmdline', 'environ'):
            try:
                with open('/proc/%d/%s' % (pid, name), 'rb') as f:
                    data = f.read()
            except OSError as e:
                t.ok(False, 'privileges: read %s of %s' % (name, what),
                     diag=str(e))
                continue
            t.ok(PASSWORD.encode() not in data,
                 'privileges: password not in /proc/PID/%s of %s'
                 % (name, what))

    # A reload: the auth file is root's (0600), unreadable by nobody now.
    n = d.count(lp, 'ok')
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: 'keeping the credentials read at start'
                    in d.log(), 5),
         'privileges: reload keeps the credentials of a root-only auth file '
         '(logged)', diag=d.log())
    t.ok(wait_until(lambda: d.count(lp, 'ok') >= n + 2, 8),
         'privileges: crawls with those credentials still ok after reload')
    t.eq(d.count(lp, 'auth-failed'), 0,
         'privileges: no auth-failed crawl with the good credentials')



NSS_WRAPPER = '/usr/lib/x86_64-linux-gnu/libnss_wrapper.so'


def case_names(env):
    """Names resolved as the system resolves them: through NSS."""
    if not os.path.exists(NSS_WRAPPER):
        raise harness.SkipTest('libnss-wrapper is not installed')
    a, work = env['a'], env['work']
    hosts = os.path.join(work, 'nss.hosts')
    # 127.0.0.9: nothing listens there (smbd binds 127.0.0.1 only).
    with open(hosts, 'w') as f:
        f.write('127.0.0.1 po-nss.maildat.test\n'
                '127.0.0.9 po-two.maildat.test\n'
                '127.0.0.1 po-two.maildat.test\n')
    os.chmod(hosts, 0o644)
    nss = {'LD_PRELOAD': NSS_WRAPPER, 'NSS_WRAPPER_HOSTS': hosts,
           'NSS_WRAPPER_DISABLE_DEEPBIND': '1',
           'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') +
           ':verify_asan_link_order=0'}
    order = harness.run([sys.executable, '-c',
                         'import socket; print(" ".join(a[4][0] for a in '
                         'socket.getaddrinfo("po-two.maildat.test", 445, '
                         'type=socket.SOCK_STREAM)))'],
                        env=dict(os.environ, **nss))
    t.eq(order.stdout.split(), ['127.0.0.9', '127.0.0.1'],
         'names: NSS gives the dead address first', diag=str(order))
    urls = {'nss': 'smb://po-nss.maildat.test:%d/MAILDAT$' % a.port,
            'two': 'smb://po-two.maildat.test:%d/MAILDAT$' % a.port,
            'none': 'smb://po-none.maildat.test:%d/MAILDAT$' % a.port}
    d = Daemon(work, 'names', ''.join(target(k, v) for k, v in
                                      sorted(urls.items())),
               workers=2, extra_global='interval = 1h\ntimeout = 10s\n'
                                       'connect_timeout = 2s\n')
    try:
        d.start(env=nss)
        # An address that never answered is summarised on its location,
        # not stored as a crawl row: read the locations.
        def locs():
            return d.query('SELECT location, last_outcome, last_error '
                           'FROM locations')
        t.ok(wait_until(lambda: len(locs()) >= 3, 30), 'names: crawled',
             diag=d.log())
        got = {r[0].split('@')[0]: (r[1], r[2]) for r in locs()}
        t.eq(got.get('\\\\po-nss.maildat.test', (None,))[0], 'ok',
             'names: a name only NSS knows is crawled ok', diag=repr(got))
        t.eq(got.get('\\\\po-two.maildat.test', (None,))[0], 'ok',
             'names: first address dead, second alive: ok', diag=repr(got))
        t.eq(got.get('\\\\po-none.maildat.test', (None,))[0],
             'unreachable', 'names: an unknown name is unreachable',
             diag=repr(got))
        t.like(got.get('\\\\po-none.maildat.test', ('', ''))[1] or '',
               'host name not found', 'names: ... as host name not found')
        t.eq(d.stop(), 0, 'names: SIGTERM, exit 0', diag=d.log()[-3000:])
    finally:
        d.stop()


def case_respawn(env):
    """A worker that cannot start (the binary is not executable by the
    daemon's user) should not be respawned in a tight loop."""
    bindir = os.path.join(env['work'], 'bin0700')
    os.mkdir(bindir, 0o755)
    exe = os.path.join(bindir, 'maildatd')
    shutil.copy(MAILDATD, exe)
    os.chmod(exe, 0o700)                # root only: nobody cannot exec it
    d = Daemon(env['work'], 'respawn', target('a', env['a'].url('MAILDAT$')),
               workers=2, extra_global='interval = 1h\n', exe=exe)
    try:
        d.start()
        time.sleep(1.5)
        rc = d.stop()
    finally:
        d.stop()
    deaths = len(re.findall(r'worker \d+ exited with status 127', d.log()))
    t.diag('respawn: %d worker deaths in 1.5 s (exit status 127: exec '
           'failed)' % deaths)
    t.eq(rc, 0, 'respawn: the daemon still stops on SIGTERM, exit 0')
    t.ok(deaths <= 10, 'respawn: workers that die at start are not respawned '
         'in a tight loop (%d deaths in 1.5 s)' % deaths)


# -- memory ------------------------------------------------------------------

SHIM_SRC = r'''
/* Test-only: maildatd starts its workers with execv("/proc/self/exe"),
 * which under valgrind is the valgrind tool, not maildatd.  Point it at
 * $MAILDAT_TEST_WORKER_EXE instead. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
execv(const char *path, char *const argv[])
{
	int (*real)(const char *, char *const[]) =
	    (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execv");
	const char *exe = getenv("MAILDAT_TEST_WORKER_EXE");

	if (exe != NULL && strcmp(path, "/proc/self/exe") == 0)
		path = exe;
	return real(path, argv);
}
'''


def build_shim(work):
    cc = shutil.which('cc') or shutil.which('gcc')
    if cc is None:
        return None
    src = os.path.join(work, 'execshim.c')
    so = os.path.join(work, 'execshim.so')
    with open(src, 'w') as f:
        f.write(SHIM_SRC)
    res = harness.run([cc, '-shared', '-fPIC', '-O2', '-o', so, src, '-ldl'],
                      timeout=60)
    if res.returncode != 0:
        sys.stderr.write('# warning: exec shim not built:\n%s\n' % res)
        return None
    os.chmod(so, 0o755)
    return so


def valgrind_prefix(logdir):
    return ['valgrind', '--leak-check=full',
            '--errors-for-leak-kinds=definite', '--error-exitcode=99',
            '--trace-children=no', '--child-silent-after-fork=yes',
            '--vgdb=no', '--log-file=%s/vg.%%p.log' % logdir]


def valgrind_report(d, logdir):
    path = os.path.join(logdir, 'vg.%d.log' % d.pid)
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None, None, ''
    m = re.search(r'definitely lost: ([\d,]+) bytes', text)
    if m:
        lost = int(m.group(1).replace(',', ''))
    elif 'no leaks are possible' in text:
        lost = 0
    else:
        lost = None
    m = re.search(r'ERROR SUMMARY: ([\d,]+) errors', text)
    errors = int(m.group(1).replace(',', '')) if m else None
    return lost, errors, text


def case_valgrind_once(env, shim):
    a = env['a']
    urls = [a.url('many', 'PO%02d' % i) for i in range(1, 21)]
    logdir = os.path.join(env['work'], 'vg-once')
    os.mkdir(logdir)
    d = Daemon(env['work'], 'vgonce', target('many', '\n    '.join(urls)),
               workers=4, extra_global='timeout = 20s\n')
    try:
        d.start('--once', prefix=valgrind_prefix(logdir),
                env={'LD_PRELOAD': shim,
                     'MAILDAT_TEST_WORKER_EXE': MAILDATD},
                wait_started=False)
        rc = d.wait(120)
    finally:
        d.stop()
    lost, errors, text = valgrind_report(d, logdir)
    t.ok(rc is not None and rc != 99, 'valgrind --once, 20 URLs: exit '
         'status %s, not 99' % rc, diag=text[-3000:] + d.log()[-2000:])
    t.eq(rc, 0, 'valgrind --once: exit 0 (every crawl ok)',
         diag=d.log()[-3000:])
    t.eq((lost, errors), (0, 0), 'valgrind --once: definitely lost 0 bytes, '
         '0 errors', diag=text[-4000:])
    t.eq(d.count(outcome='ok'), 20, 'valgrind --once: 20 ok crawls')


def case_valgrind_no_shim(env):
    """Without the shim the workers cannot start under valgrind."""
    a = env['a']
    logdir = os.path.join(env['work'], 'vg-noshim')
    os.mkdir(logdir)
    d = Daemon(env['work'], 'vgnoshim', target('a', a.url('MAILDAT$')),
               workers=1, extra_global='timeout = 20s\n')
    try:
        d.start('--once', prefix=valgrind_prefix(logdir), wait_started=False)
        rc = d.wait(60)
    finally:
        d.stop()
    rows = d.crawls()
    t.ok(rc == 0 and [r[4] for r in rows] == ['ok'],
         'valgrind --once without an exec shim: workers start and crawl ok',
         diag='exit %s, crawls %r' % (rc, rows))


def case_memory(env, shim, asan):
    """A long valgrind run (30 URLs, aiming at 1000 crawls) and an RSS
    check (10 URLs), side by side."""
    a = env['a']
    urls10 = [a.url('many', 'PO%02d' % i) for i in range(1, 11)]
    urls30 = [a.url('many', 'PO%02d' % i) for i in range(1, 31)]
    g = 'interval = 1s\ntimeout = 20s\njobs_per_worker = 25\n'
    rss = Daemon(env['work'], 'rss', target('many', '\n    '.join(urls10)),
                 workers=4, extra_global=g)
    vg = None
    vrc = None
    logdir = os.path.join(env['work'], 'vg-long')
    os.mkdir(logdir)
    if shim is not None and not asan and shutil.which('valgrind'):
        vg = Daemon(env['work'], 'vglong',
                    target('many', '\n    '.join(urls30)),
                    workers=4, extra_global=g)
    try:
        if vg is not None:
            vg.start(prefix=valgrind_prefix(logdir),
                     env={'LD_PRELOAD': shim,
                          'MAILDAT_TEST_WORKER_EXE': MAILDATD})
        rss.start()
        t0 = rss.started_at
        time.sleep(max(0, 10 - (time.monotonic() - t0)))
        r10 = vmrss_kib(rss.pid)
        n10 = rss.count()
        w10 = worker_pids(rss.pid)
        samples = [(10, r10)]
        while time.monotonic() - t0 < 40:
            time.sleep(5)
            samples.append((round(time.monotonic() - t0), vmrss_kib(rss.pid)))
        r40 = vmrss_kib(rss.pid)
        n40 = rss.count()
        w40 = worker_pids(rss.pid)
        st = rss.status() or {}
        rc = rss.stop()
        if vg is not None:
            # Let the valgrind run reach 1000 crawls (at most 60 s in all).
            wait_until(lambda: vg.count() >= 1000,
                       max(0, 60 - (time.monotonic() - vg.started_at)), 0.5)
            vrc = vg.stop(timeout=60)
    finally:
        rss.stop()
        if vg is not None:
            vg.stop()

    t.diag('rss: VmRSS of the parent (KiB) at s: %s'
           % ', '.join('%d s: %s' % s for s in samples))
    t.diag('rss: %d crawls at 10 s, %d at 40 s; workers_replaced %s, '
           'jobs_done %s' % (n10, n40, st.get('workers_replaced'),
                             st.get('jobs_done')))
    t.eq(rc, 0, 'rss: SIGTERM, exit 0', diag=rss.log()[-2000:])
    t.ok(n40 >= 200, 'rss: hundreds of crawls in 40 s (%d)' % n40)
    t.eq(rss.count() - rss.count(outcome='ok'), 0, 'rss: every crawl ok')
    t.ok(len(w10) == 4 and len(w40) == 4 and not set(w10) & set(w40),
         'rss: the 4 workers were recycled (jobs_per_worker 25): %r -> %r'
         % (w10, w40))
    t.eq(st.get('workers_replaced'), '0',
         'rss: no worker died unexpectedly (workers_replaced 0)',
         diag=repr(st))
    if asan:
        t.skip('rss: VmRSS growth from 10 s to 40 s under 2 MiB',
               'AddressSanitizer build (its quarantine grows the heap)')
    elif r10 is None or r40 is None:
        t.ok(False, 'rss: VmRSS read')
    else:
        t.ok(r40 - r10 < 2048, 'rss: VmRSS growth from 10 s to 40 s under '
             '2 MiB (%d KiB -> %d KiB, %+d KiB)' % (r10, r40, r40 - r10))

    if vg is None:
        t.skip('valgrind long run', 'no valgrind, no C compiler for the '
               'exec shim, or an AddressSanitizer build')
        return
    lost, errors, text = valgrind_report(vg, logdir)
    n = vg.count()
    t.diag('valgrind long run: %d crawls (%d ok)'
           % (n, vg.count(outcome='ok')))
    t.eq(vrc, 0, 'valgrind long run: exit 0 after SIGTERM (not 99)',
         diag=text[-3000:])
    t.eq((lost, errors), (0, 0), 'valgrind long run: definitely lost 0 bytes, '
         '0 errors', diag=text[-4000:])
    t.ok(n >= 300, 'valgrind long run: at least 300 crawls (%d; aim 1000 '
         'in 60 s)' % n)
    t.eq(n - vg.count(outcome='ok'), 0, 'valgrind long run: every crawl ok')


# ---------------------------------------------------------------------------

def build_tree(work):
    srv = os.path.join(work, 'srv')
    a, b = os.path.join(srv, 'a'), os.path.join(srv, 'b')
    priv, many = os.path.join(srv, 'priv'), os.path.join(srv, 'many')
    mkpo('-N', 'CORP', '-P', 'HQ', '-s', '22-28798', '--route',
         'CORP/BRANCH', a)
    mkpo('-N', 'CORP', '-P', 'BRANCH', '-s', '22-28798', b)
    mkpo('-N', 'SEC', '-P', 'VAULT', priv)
    for i in range(1, 31):
        mkpo('-N', 'MANY', '-P', 'PO%02d' % i,
             '-s', '%02d-%05d' % (i, 10000 + i),
             '--route', 'MANY/PO%02d' % (i % 30 + 1),
             os.path.join(many, 'PO%02d' % i))
    make_readable(srv)
    return a, b, priv, many


def main():
    with harness.suite(t, 'needs root (smbd, useradd, privilege '
                       'drop)') as work:
        asan = is_asan(MAILDATD)
        dirs_before = statedirs()
        a_dir, b_dir, priv, many = build_tree(work)
        shim = None
        if not asan and shutil.which('valgrind'):
            shim = build_shim(work)
        with harness.Samba(work, shares={'MAILDAT$': a_dir, 'priv': priv,
                                         'many': many},
                           users={USER: PASSWORD},
                           share_options={'priv': {'valid users': USER,
                                                   'guest ok': 'no'}}) as sa, \
                harness.Samba(work, shares={'MAILDAT$': b_dir}) as sb, \
                harness.HungServer() as hung, \
                harness.SyslogReceiver(work) as slog:
            # Alerts go to a socket of ours, not to the host's syslog.
            Daemon.syslog = 'unix:' + slog.path
            env = {'work': work, 'a': sa, 'b': sb, 'hung': hung}
            try:
                t.run(case_config, 'config check (-n)', env)
                t.run(case_once, '--once', env)
                t.run(case_schedule, 'schedule', env)
                t.run(case_reload, 'reload', env)
                t.run(case_sigterm, 'SIGTERM during a crawl', env)
                t.run(case_worker_killed, 'worker SIGKILLed', env)
                t.run(case_control_and_privileges, 'control and privileges',
                      env)
                t.run(case_respawn, 'worker respawn', env)
                t.run(case_names, 'names through NSS', env)
                if asan or not shutil.which('valgrind'):
                    t.skip('valgrind cases', 'no valgrind, or an '
                           'AddressSanitizer build')
                else:
                    if shim is None:
                        t.skip('valgrind --once, 20 URLs',
                               'no C compiler for the exec shim')
                    else:
                        t.run(case_valgrind_once, 'valgrind --once', env,
                              shim)
                    t.run(case_valgrind_no_shim, 'valgrind without shim',
                          env)
                t.run(case_memory, 'memory', env, shim, asan)
            finally:
                stop_all_daemons()
                tidy_statedirs(dirs_before)


if __name__ == '__main__':
    main()
