#!/usr/bin/env python3
"""Security checks of maildatd, maildatctl and the systemd unit.

Runs the real programs (the daemon as root, dropping to 'nobody', in the
foreground with -d) against a private Samba server.

Cases:
  secrets       the password of an auth file never shows in the daemon's
                log (-v -v), the alerts, the database files, the run
                directory, /proc/PID/cmdline and /proc/PID/environ of the
                parent and of every worker: after crawls and after a
                reload; nor in maildatctl scan -A -v -v
  auth-files    modes 0644, 0640, 0604, 0700 refused by maildatd -n and
                maildatctl scan -A, 0600 and 0400 accepted; a symbolic
                link, a directory and a FIFO refused (and nothing hangs)
  control       the control socket: root, the daemon's user and a member
                of its group are served; another user is refused, also
                with the socket made 0666
  query         maildatctl query refuses INSERT, ATTACH, PRAGMA
                writable_schema, load_extension() and more, and changes
                nothing; query on a database its user cannot write
  syslog        control characters never reach the syslog socket raw
                (a rule whose message holds them, a postoffice name with
                one); a location with spaces, quotes, % and ; round-trips
  traversal     an XTN id "../../x" is refused as malformed and the file
                it points at is never read; '.' and '..' in a URL refused
  pid file      a symbolic link, a hard link, a FIFO, a directory or
                another user's file planted as the pid file (or as the
                database lock) is refused and what it points at untouched
  socket race   the daemon's user swaps the control socket for a link to
                a root file as soon as it is bound, with path-based chmod
                and chown delayed (strace): root never changes the file
  one daemon    a second maildatd on one database (-d, --once, -F, or a
                reload onto it) is refused, naming the first one's pid
  cores         parent and workers are not dumpable and have RLIMIT_CORE
                0; workers killed with SIGSEGV leave no core
  privileges    parent and workers: uid/gid nobody, no other groups, no
                capabilities; NoNewPrivs and Seccomp reported; user = root
                and unknown users refused
  unit          etc/maildatd.service.in hardening, systemd-analyze verify
                and security --offline (exposure at most 5.0)

Set MAILDAT_SECURITY_CASES to a comma-separated list of case names (as in
main()) to run only those.  Prints TAP for automake's tap-driver.sh.
Needs root (smbd, useradd,
privilege drop).  Every process started here is stopped in a finally
block; the harness watchdog catches the rest if this script is killed.
"""

import grp
import hashlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402
from harness import (Daemon, loc, make_readable, mkpo,  # noqa: E402
                     proc_stat, proc_status, target, wait_until,
                     worker_pids, write_auth)

t = harness.Tap()
MAILDATD = harness.tool('maildatd')
CTL = harness.tool('maildatctl')

USER = 'mdtest1'                # the SMB account
PASSWORD = 'mdSec-%08x-Z9' % random.getrandbits(32)
OTHER_USER = 'mdtest3'          # neither root, nor nobody, nor in nogroup
GROUP_USER = 'mdtest4'          # a member of the daemon's group (nogroup)
NOBODY = pwd.getpwnam('nobody')
ODD_SHARE = "odd 'q' share"
ODD_DIR = "PO 'q' %s%n 50%; x"

# A python3 that other users may run (the one on PATH may be root's own).
USER_PYTHON = '/usr/bin/python3' if os.access('/usr/bin/python3', os.X_OK) \
    else sys.executable


# ---------------------------------------------------------------------------
# Helpers (the common ones are harness.py's)
# ---------------------------------------------------------------------------

def secret_forms():
    """The password as bytes, in the encodings it could be stored in."""
    return [PASSWORD.encode(), PASSWORD.encode('utf-16-le'),
            PASSWORD.encode().hex().encode()]


def has_secret(data):
    return any(f in data for f in secret_forms())


def url_quote(s):
    return urllib.parse.quote(s, safe="'")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def check_no_secret(d, when, slog):
    """The password is in none of the places a user could look."""
    t.ok(not has_secret(d.log().encode()),
         'secrets: not in the daemon\'s log (-v -v) %s' % when)
    t.ok(not has_secret('\n'.join(slog.messages()).encode()),
         'secrets: not in the alerts sent to syslog %s' % when)
    pids = [('parent', d.pid)] + [('worker %d' % p, p)
                                  for p in worker_pids(d.pid)]
    t.ok(len(pids) == 1 + 3, 'secrets: the parent and 3 workers to look at '
         '%s' % when)
    leaks = []
    for what, pid in pids:
        for name in ('cmdline', 'environ'):
            try:
                with open('/proc/%d/%s' % (pid, name), 'rb') as f:
                    if has_secret(f.read()):
                        leaks.append('%s %s' % (what, name))
            except OSError as e:
                leaks.append('%s %s unreadable: %s' % (what, name, e))
    t.eq(leaks, [], 'secrets: not in /proc/PID/cmdline or environ of the '
         'parent and the workers %s' % when)
    rd = d.rundir()
    files = []
    if rd is not None:
        for root, _, names in os.walk(rd):
            for n in names:
                p = os.path.join(root, n)
                try:
                    with open(p, 'rb') as f:
                        if has_secret(f.read()):
                            files.append(p)
                except OSError:
                    pass
    t.ok(rd is not None and not files, 'secrets: not in the files of the '
         'run directory %s (%s)' % (when, rd), diag=repr(files))


def case_secrets(env):
    a, work, slog = env['a'], env['work'], env['slog']
    root_auth = os.path.join(work, 'root.auth')       # root's, 0600
    own_auth = os.path.join(work, 'own.auth')         # nobody's, 0600
    write_auth(root_auth, USER, PASSWORD)
    write_auth(own_auth, USER, PASSWORD)
    os.chown(own_auth, NOBODY.pw_uid, NOBODY.pw_gid)
    lp, lp2 = loc(a.port, 'priv'), loc(a.port, 'priv2')
    d = Daemon(work, 'secrets',
               '[credentials corp]\nauth_file = %s\n' % root_auth +
               '[credentials own]\nauth_file = %s\n' % own_auth +
               target('priv', a.url('priv'), credentials='corp') +
               target('priv2', a.url('priv2'), credentials='own') +
               target('a', a.url('MAILDAT$')),
               workers=3, extra_global='interval = 1s\ntimeout = 5s\n')
    env['secrets_daemon'] = d
    try:
        d.start('-v', '-v')
        t.ok(wait_until(lambda: d.count(lp, 'ok') >= 1 and
                        d.count(lp2, 'ok') >= 1, 10),
             'secrets: both password shares crawled ok (the password is '
             'right)', diag=lambda: repr(d.crawls()) + d.log()[-2000:])
        check_no_secret(d, 'after crawls', slog)
        # Other cases use this daemon while it runs.
        t.run(case_privileges_running, 'privileges (running daemon)', d)
        t.run(case_control, 'control socket', d)
        t.run(case_control_abuse, 'control socket abuse', d)
        blob = d.db_bytes()
        t.ok(len(blob) > 0 and not has_secret(blob),
             'secrets: not in the database files while the daemon runs '
             '(%d bytes with the WAL)' % len(blob))
        n1, n2 = d.count(lp, 'ok'), d.count(lp2, 'ok')
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: 'configuration reloaded' in d.log(), 10),
             'secrets: reloaded (SIGHUP)', diag=lambda: d.log()[-2000:])
        t.ok('keeping the credentials read at start' in d.log(),
             'secrets: the root-only auth file is kept from the start')
        t.ok(wait_until(lambda: d.count(lp, 'ok') >= n1 + 2 and
                        d.count(lp2, 'ok') >= n2 + 2, 10),
             'secrets: both password shares still crawled ok after the '
             'reload')
        check_no_secret(d, 'after a reload', slog)
        rc = d.stop()
        t.eq(rc, 0, 'secrets: SIGTERM, exit 0', diag=d.log()[-2000:])
    finally:
        d.stop()
    blob = d.db_bytes()
    t.ok(len(blob) > 0 and not has_secret(blob),
         'secrets: not in the database files (%d bytes)' % len(blob))
    t.ok(not has_secret(d.log().encode()), 'secrets: not in the whole log '
         '(%d lines)' % len(d.log().splitlines()))
    res = harness.run([CTL, 'scan', '-v', '-v', '-A', root_auth,
                       a.url('priv')], timeout=60)
    t.ok(res.returncode == 0 and not has_secret((res.stdout +
                                                 res.stderr).encode()),
         'secrets: maildatctl scan -A -v -v: ok, and the password is not in '
         'its output', diag=str(res)[-2000:])


def case_privileges_running(d):
    u, g = NOBODY.pw_uid, NOBODY.pw_gid
    pids = [('parent', d.pid)] + [('worker %d' % p, p)
                                  for p in worker_pids(d.pid)]
    reported = set()
    for what, pid in pids:
        try:
            st = proc_status(pid)
        except OSError as e:
            t.ok(False, 'privileges: /proc/%d/status of %s' % (pid, what),
                 diag=str(e))
            continue
        ids = (st.get('Uid', '').split(), st.get('Gid', '').split(),
               st.get('Groups', '').split())
        t.eq(ids, ([str(u)] * 4, [str(g)] * 4, [str(g)]),
             'privileges: %s: uid and gid nobody (real, effective, saved, '
             'fs), groups only nogroup' % what)
        caps = dict((k, int(st.get(k, '-1'), 16)) for k in
                    ('CapInh', 'CapPrm', 'CapEff', 'CapAmb'))
        t.eq(caps, {'CapInh': 0, 'CapPrm': 0, 'CapEff': 0, 'CapAmb': 0},
             'privileges: %s: no capabilities (inheritable, permitted, '
             'effective, ambient)' % what)
        rep = (st.get('NoNewPrivs'), st.get('Seccomp'), st.get('CapBnd'))
        if rep not in reported:
            reported.add(rep)
            t.diag('privileges: %s: NoNewPrivs %s, Seccomp %s, CapBnd %s '
                   '(outside systemd nothing sets them; the unit sets '
                   'NoNewPrivileges=yes)' % ((what,) + rep))
    rd = d.rundir()
    if rd is None:
        t.ok(False, 'privileges: the run directory of the workers found')
    else:
        sb = os.lstat(rd)
        t.eq((sb.st_uid, stat.S_IMODE(sb.st_mode), stat.S_ISDIR(sb.st_mode)),
             (u, 0o700, True), 'privileges: the run directory %s is '
             'nobody\'s, mode 0700' % rd)
    sb = os.stat(d.db)
    t.eq(sb.st_uid, u, 'privileges: the database is nobody\'s')
    t.diag('privileges: database mode %04o (from the umask; the unit sets '
           'UMask=0027)' % stat.S_IMODE(sb.st_mode))


def refused_start(work, name, user_line):
    """Start maildatd as root with USER_LINE in [maildatd]: (rc, output,
    whether it created its database)."""
    dbdir = os.path.join(work, name)
    os.mkdir(dbdir)
    os.chown(dbdir, NOBODY.pw_uid, NOBODY.pw_gid)
    conf = os.path.join(work, name + '.conf')
    with open(conf, 'w') as f:
        f.write('[maildatd]\ndatabase = %s/x.db\ncontrol_socket = %s/s\n'
                '%s[target a]\nurl = smb://127.0.0.1:1/x\n'
                % (dbdir, dbdir, user_line))
    res = harness.run([MAILDATD, '-d', '-c', conf], timeout=20)
    return res, os.path.exists(os.path.join(dbdir, 'x.db'))


def case_privileges_refusals(env):
    work = env['work']
    res, made = refused_start(work, 'asroot', 'user = root\n')
    t.ok(res.returncode == 1 and 'user root is root; refusing to run as '
         'root' in res.stderr and not made,
         'privileges: user = root: refused, exit 1, no database',
         diag=str(res))
    res, made = refused_start(work, 'nouser', 'user = nosuchuser9\n')
    t.ok(res.returncode == 1 and 'user nosuchuser9 does not exist' in
         res.stderr and not made,
         'privileges: an unknown user: refused, exit 1', diag=str(res))
    res, made = refused_start(work, 'emptyuser', 'user =\n')
    t.ok(res.returncode == 2 and 'bad user name' in res.stderr and not made,
         'privileges: user = (empty): a configuration error, exit 2',
         diag=str(res))
    # Without user = the daemon's user is "maildatd".
    try:
        pw = pwd.getpwnam('maildatd')
    except KeyError:
        pw = None
    if pw is None:
        res, made = refused_start(work, 'defuser', '')
        t.ok(res.returncode == 1 and 'user maildatd does not exist' in
             res.stderr and not made,
             'privileges: no user = and no maildatd account: refused '
             'rather than run as root', diag=str(res))
    else:
        t.skip('privileges: no user = and no maildatd account',
               'a maildatd account exists here')


def case_control(d):
    for who in (None, 'nobody'):
        res = d.ctl('status', user=who)
        t.eq(res.returncode, 0, 'control: %s is served' % (who or 'root'),
             diag=str(res))
    harness._ensure_unix_user(OTHER_USER)
    other = pwd.getpwnam(OTHER_USER)
    gid = NOBODY.pw_gid
    groups = os.getgrouplist(OTHER_USER, other.pw_gid)
    if gid in groups:
        t.ok(False, 'control: %s is not in the daemon\'s group' % OTHER_USER)
        return
    res = d.ctl('status', user=OTHER_USER)
    t.ok(res.returncode == 1 and 'Permission denied' in res.stderr,
         'control: %s is refused by the socket\'s mode (0660)' % OTHER_USER,
         diag=str(res))
    os.chmod(d.sock, 0o666)
    try:
        for cmd in ('status', 'reload', 'crawl'):
            res = d.ctl(cmd, user=OTHER_USER)
            t.ok(res.returncode != 0 and res.stdout == '',
                 'control: socket made 0666: %s still refused (%s)'
                 % (OTHER_USER, cmd), diag=str(res))
    finally:
        os.chmod(d.sock, 0o660)
    t.like(d.log(), r'control: refused peer uid %d' % other.pw_uid,
           'control: the refused peer is logged')
    # A member of the daemon's group (supplementary group).
    try:
        pwd.getpwnam(GROUP_USER)
    except KeyError:
        harness.run(['useradd', '--system', '--no-create-home', '--shell',
                     '/usr/sbin/nologin', '-G', grp.getgrgid(gid).gr_name,
                     GROUP_USER], timeout=30)
    try:
        member = pwd.getpwnam(GROUP_USER)
        ok = gid in os.getgrouplist(GROUP_USER, member.pw_gid)
    except KeyError:
        ok = False
    if not ok:
        t.skip('control: a member of the daemon\'s group is served',
               'could not create %s in group %d' % (GROUP_USER, gid))
        return
    res = d.ctl('status', user=GROUP_USER)
    t.eq(res.returncode, 0, 'control: %s, a member of the daemon\'s group, '
         'is served' % GROUP_USER, diag=str(res))
    # README: "A member of the group can read the database while the
    # daemon runs" (it cannot write the -shm file).
    res = harness.run(['runuser', '-u', GROUP_USER, '--', CTL, '--db', d.db,
                       '--format', 'json', 'query',
                       'SELECT count(*) AS n FROM crawls'], timeout=30)
    t.ok(res.returncode == 0 and '"n"' in res.stdout,
         'control: %s may query the database while the daemon runs'
         % GROUP_USER, diag=str(res))


def case_control_abuse(d):
    """An allowed peer that misbehaves does not stop the daemon.  (The
    answer may be empty: the daemon may close while we still send.)"""
    ans, _ = d.converse(b'x' * 100000, timeout=5)
    t.ok(ans == '' or ans.startswith('error: line too long'),
         'control: a 100 kB line is cut off ("line too long", or the '
         'connection closed)', diag=repr(ans[:200]))
    t.ok(d.running() and d.ctl('status').returncode == 0,
         'control: ... and the daemon still answers')
    ans, _ = d.converse(b'status\0\xff\x1b[2J\n', timeout=5)
    t.diag('control: "status\\0<binary>" is answered as: %r' % ans[:40])
    t.ok(ans.startswith('error: NUL byte in the command'),
         'control: a command with a NUL byte is refused, not cut short '
         'and run', diag=repr(ans[:80]))
    idle = []
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.sock)
            idle.append(s)
        t0 = time.monotonic()
        res = d.ctl('status')
        took = time.monotonic() - t0
    finally:
        for s in idle:
            s.close()
    t.ok(res.returncode == 0 and took < 3, 'control: status answered in '
         '%.2f s while 100 idle connections are open' % took, diag=str(res))
    t.ok(d.running(), 'control: the daemon is still running')


def victim(work, name, mode=0o600):
    """A root-owned file that the daemon's user must not be able to make
    root change: (path, its contents, lstat tuple)."""
    path = os.path.join(work, name)
    data = ('precious %s %08x\n' % (name, random.getrandbits(32))).encode()
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
    return path, data


def unchanged(path, data, mode=0o600):
    sb = os.lstat(path)
    with open(path, 'rb') as f:
        now = f.read()
    return (now, sb.st_uid, sb.st_gid, stat.S_IMODE(sb.st_mode)) == \
        (data, 0, 0, mode)


def rundir(work, name):
    """A directory owned by nobody, as @runstatedir@/maildatd is by the
    daemon's user."""
    dpath = os.path.join(work, name)
    os.mkdir(dpath)
    os.chmod(dpath, 0o750)
    os.chown(dpath, NOBODY.pw_uid, NOBODY.pw_gid)
    return dpath


def daemon_conf(work, name, dpath, extra=''):
    conf = os.path.join(work, name + '.conf')
    with open(conf, 'w') as f:
        f.write('[maildatd]\ndatabase = %s/x.db\ncontrol_socket = %s/s\n'
                'pidfile = %s/maildatd.pid\nuser = nobody\n%s'
                '[target a]\nurl = smb://127.0.0.1:1/x\n'
                % (dpath, dpath, dpath, extra))
    return conf


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def case_pidfile_links(env):
    """Root opens the pid file in the daemon user's directory: a link or
    anything but the daemon's own regular file is refused, and the file
    it points at is untouched."""
    work = env['work']
    harness._ensure_unix_user(OTHER_USER)
    other = pwd.getpwnam(OTHER_USER)
    kinds = ['symlink', 'hardlink', 'hardlink-0666', 'fifo', 'directory',
             'other-owner']
    for kind in kinds:
        dpath = rundir(work, 'pid-' + kind)
        vpath, data = victim(work, 'victim-pid-' + kind)
        pidpath = os.path.join(dpath, 'maildatd.pid')
        if kind == 'symlink':
            os.symlink(vpath, pidpath)
            why = 'is a symbolic link; refusing to follow it'
        elif kind == 'hardlink':
            # Where fs.protected_hardlinks is 0, the user can make this;
            # root opens it as the user would, who may not.
            os.link(vpath, pidpath)
            why = 'Permission denied'
        elif kind == 'hardlink-0666':
            # A file the user may write anyway: still not opened.
            os.chmod(vpath, 0o666)
            os.link(vpath, pidpath)
            why = 'has 2 hard links'
        elif kind == 'fifo':
            os.mkfifo(pidpath, 0o644)
            os.chown(pidpath, NOBODY.pw_uid, NOBODY.pw_gid)
            why = 'is not a regular file'
        elif kind == 'directory':
            os.mkdir(pidpath)
            os.chown(pidpath, NOBODY.pw_uid, NOBODY.pw_gid)
            why = 'Is a directory'
        else:
            with open(pidpath, 'w') as f:
                f.write('1\n')
            os.chmod(pidpath, 0o666)
            os.chown(pidpath, other.pw_uid, other.pw_gid)
            why = 'is owned by uid %d' % other.pw_uid
        conf = daemon_conf(work, 'pid-' + kind, dpath)
        # Without -d: the daemon detaches and writes its pid file.
        res = harness.run([MAILDATD, '-c', conf], timeout=20)
        time.sleep(0.3)
        t.ok(res.returncode == 1 and 'pid file: %s' % pidpath in res.stderr
             and why in res.stderr,
             'pid file: a planted %s is refused, exit 1 (%s)' % (kind, why),
             diag=str(res))
        t.ok(unchanged(vpath, data, 0o666 if kind == 'hardlink-0666' else
                       0o600), 'pid file: planted %s: the root-owned '
             'file behind it is unchanged' % kind)
        t.ok(not os.path.exists(os.path.join(dpath, 'x.db')),
             'pid file: planted %s: the daemon went no further (no '
             'database)' % kind)
    # A sound start: the pid file is the daemon user's, holding its pid.
    dpath = rundir(work, 'pid-sound')
    conf = daemon_conf(work, 'pid-sound', dpath)
    res = harness.run([MAILDATD, '-c', conf], timeout=20)
    pidpath = os.path.join(dpath, 'maildatd.pid')
    ok = wait_until(lambda: os.path.exists(pidpath) and
                    open(pidpath).read().strip().isdigit(), 10)
    pid = int(open(pidpath).read()) if ok else None
    try:
        sb = os.lstat(pidpath)
        t.ok(res.returncode == 0 and ok and stat.S_ISREG(sb.st_mode) and
             sb.st_uid == NOBODY.pw_uid,
             'pid file: a sound start writes a regular pid file owned by '
             'the daemon\'s user', diag=str(res))
        lk = os.path.join(dpath, 'x.db.lock')
        t.ok(ok and os.path.exists(lk) and open(lk).read().strip() ==
             str(pid), 'pid file: the database lock holds the detached '
             'daemon\'s pid')
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
            wait_until(lambda: not os.path.exists('/proc/%d' % pid) or
                       proc_stat(pid) is None or proc_stat(pid)[0] == 'Z',
                       10)
    # The database lock file is opened the same way.
    dpath = rundir(work, 'lock-link')
    vpath, data = victim(work, 'victim-lock')
    os.symlink(vpath, os.path.join(dpath, 'x.db.lock'))
    conf = daemon_conf(work, 'lock-link', dpath)
    res = harness.run([MAILDATD, '-d', '-c', conf], timeout=20)
    t.ok(res.returncode == 1 and 'database lock' in res.stderr and
         'symbolic link' in res.stderr and unchanged(vpath, data),
         'database lock: a planted link is refused and its target '
         'unchanged', diag=str(res))


RACER = r"""
import os, stat, sys
sock, victim, stop = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
# Wait for the socket root binds, and swap it for a link at once.
while not os.path.exists(stop):
    try:
        if stat.S_ISSOCK(os.lstat(sock).st_mode):
            os.unlink(sock)
            os.symlink(victim, sock)
            n += 1
    except OSError:
        pass
print(n)
"""


def case_socket_race(env):
    """The daemon's user swaps the control socket for a link to a root
    file the moment root has bound it.  Each start runs under strace with
    every path-based chmod and chown delayed by 50 ms, as on a loaded
    machine, so the window is wide open if root takes one: root must never
    change the file (before, a raced link made a root 0600 file
    maildatd:maildatd 0660)."""
    work = env['work']
    strace = shutil.which('strace')
    if strace is None:
        t.skip('socket race', 'strace is not installed')
        return
    dpath = rundir(work, 'sockrace')
    vpath, data = victim(work, 'victim-sock')
    conf = os.path.join(work, 'sockrace.conf')
    sock = os.path.join(dpath, 'control.sock')
    with open(conf, 'w') as f:
        f.write('[maildatd]\ndatabase = %s/x.db\ncontrol_socket = %s\n'
                'user = nobody\n[target a]\nurl = smb://127.0.0.1:1/x\n'
                % (dpath, sock))
    stopf = os.path.join(work, 'sockrace.stop')
    racer = subprocess.Popen(
        [USER_PYTHON, '-c', RACER, sock, vpath, stopf],
        stdout=subprocess.PIPE, preexec_fn=as_nobody, text=True)
    logp = os.path.join(work, 'sockrace.log')
    started = refused = 0
    why = []
    try:
        for _ in range(10):
            # What the last start left (the link the racer planted).
            try:
                os.unlink(sock)
            except OSError:
                pass
            res_f = open(logp, 'wb')
            p = subprocess.Popen(
                [strace, '-qq', '-o', '/dev/null', '-e',
                 'trace=chmod,fchmodat,chown,lchown,fchownat', '-e',
                 'inject=chmod,fchmodat,chown,lchown,fchownat:'
                 'delay_enter=50000', MAILDATD, '-d', '-c', conf],
                stdout=res_f, stderr=subprocess.STDOUT,
                # LeakSanitizer cannot run under ptrace.
                env=harness._child_env({'ASAN_OPTIONS': 'detect_leaks=0'}),
                preexec_fn=harness._make_preexec(os.getpid()))
            wait_until(lambda: p.poll() is not None or
                       'maildatd: started' in open(logp).read(), 20)
            if p.poll() is None:
                started += 1
                # The daemon, not strace (which would detach and leave it).
                with open('/proc/%d/task/%d/children' % (p.pid, p.pid)) as f:
                    for pid in f.read().split():
                        os.kill(int(pid), signal.SIGTERM)
            else:
                refused += 1
                why = open(logp).read().strip().splitlines()[-1:]
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            res_f.close()
            if not unchanged(vpath, data):
                break
    finally:
        open(stopf, 'w').close()
        out, _ = racer.communicate(timeout=10)
    t.diag('socket race: %d starts got as far as running, %d were refused '
           '(%s); the racer swapped the socket for a link %s times'
           % (started, refused, why, out.strip()))
    t.ok(unchanged(vpath, data), 'socket race: the root-owned 0600 file '
         'is still root:root 0600 with its contents after the raced '
         'starts', diag=repr(os.lstat(vpath)))
    # Without a racer the socket is the user's and 0660, made that way.
    os.unlink(stopf)
    try:
        os.unlink(sock)
    except OSError:
        pass
    p = subprocess.Popen([MAILDATD, '-d', '-c', conf],
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=harness._child_env(),
                         preexec_fn=harness._make_preexec(os.getpid()))
    try:
        ok = wait_until(lambda: os.path.exists(sock), 10)
        sb = os.lstat(sock) if ok else None
        t.ok(sb is not None and stat.S_ISSOCK(sb.st_mode) and
             (sb.st_uid, sb.st_gid, stat.S_IMODE(sb.st_mode)) ==
             (NOBODY.pw_uid, NOBODY.pw_gid, 0o660),
             'socket race: unraced, the socket is nobody:nogroup 0660',
             diag=repr(sb))
    finally:
        p.terminate()
        p.wait(10)


def case_one_daemon(env):
    """One daemon per database, whatever its control socket or mode."""
    a, work = env['a'], env['work']
    d1 = Daemon(work, 'onedb1', target('a', a.url('MAILDAT$')))
    d1.start()
    try:
        db = d1.db
        for mode in (['-d'], ['-d', '--once'], ['-F']):
            dpath = rundir(work, 'onedb2' + ''.join(mode).replace('-', ''))
            conf = os.path.join(dpath + '.conf')
            with open(conf, 'w') as f:
                f.write('[maildatd]\ndatabase = %s\ncontrol_socket = %s/s\n'
                        'user = nobody\n[target a]\nurl = %s\n'
                        % (db, dpath, a.url('MAILDAT$')))
            res = harness.run([MAILDATD, '-c', conf] + mode, timeout=20)
            msg = ('the database %s is in use by another maildatd (pid %d'
                   % (db, d1.pid))
            t.ok(res.returncode == 1 and msg in res.stderr,
                 'one daemon: a second maildatd %s on the same database '
                 'with another control socket is refused, naming the first'
                 % ' '.join(mode), diag=str(res))
        t.ok(d1.running() and d1.ctl('status').returncode == 0,
             'one daemon: the first runs on')
        # A reload onto a database another daemon holds changes nothing.
        d2 = Daemon(work, 'onedb3', target('a', a.url('MAILDAT$')))
        d2.start()
        with open(d1.conf) as f:
            text = f.read()
        with open(d1.conf, 'w') as f:
            f.write(text.replace('database = %s' % d1.db,
                                 'database = %s' % d2.db))
        res = d1.ctl('reload')
        t.ok(res.returncode != 0 and 'in use by another maildatd (pid %d'
             % d2.pid in res.stdout + res.stderr,
             'one daemon: a reload onto a database another daemon holds is '
             'refused', diag=str(res))
        t.eq(d1.ctl('status').returncode, 0, 'one daemon: ... and the first '
             'keeps its own database')
        d2.stop()
    finally:
        d1.stop()
    # The lock goes with the daemon.
    d1b = Daemon(work, 'onedb4', target('a', a.url('MAILDAT$')))
    d1b.db = d1.db
    d1b.write_conf(target('a', a.url('MAILDAT$')))
    d1b.start()
    t.ok(d1b.running(), 'one daemon: once the first stopped, another '
         'starts on its database')
    d1b.stop()


def case_cores(env):
    """A crawl worker that crashes leaves no core file with the password:
    workers and parent are not dumpable and have RLIMIT_CORE 0."""
    a, work = env['a'], env['work']
    auth = os.path.join(work, 'cores.auth')
    write_auth(auth, USER, PASSWORD)
    d = Daemon(work, 'cores', '[credentials corp]\nauth_file = %s\n' % auth
               + target('priv', a.url('priv'), credentials='corp'),
               workers=2, extra_global='interval = 1s\n')
    # The daemon runs with its own directory (nobody's) as its cwd, where
    # core_pattern "core" would put a core file.
    control = os.path.join(d.dir, 'control')
    os.mkdir(control)
    os.chown(control, NOBODY.pw_uid, NOBODY.pw_gid)
    try:
        d.start(cwd=d.dir, cores=True)
        t.ok(wait_until(lambda: d.count(loc(a.port, 'priv'), 'ok') >= 1,
                        15), 'cores: the password share is crawled ok')
        with open('/proc/sys/kernel/core_pattern') as f:
            pattern = f.read().strip()
        # Control: an ordinary process of the same user in the same kind of
        # directory does leave a core here, so a missing one means
        # something.
        r = subprocess.run(
            [USER_PYTHON, '-c', 'import os, resource, signal\n'
             'resource.setrlimit(resource.RLIMIT_CORE, (-1, -1))\n'
             'os.kill(os.getpid(), signal.SIGSEGV)\n'],
            cwd=control, preexec_fn=as_nobody)
        cored = [n for n in os.listdir(control) if n.startswith('core')]
        t.diag('cores: core_pattern %r; an ordinary process left %s'
               % (pattern, cored or 'no core'))
        pids = [('parent', d.pid)] + [('worker', p) for p in
                                      worker_pids(d.pid)]
        for what, pid in pids:
            # Files under /proc/PID of a process that is not dumpable are
            # root's (the directory itself keeps the process's uid).
            sb = os.stat('/proc/%d/status' % pid)
            with open('/proc/%d/limits' % pid) as f:
                lim = [l for l in f if l.startswith('Max core file size')]
            t.ok(sb.st_uid == 0 and lim and lim[0].split()[4:6] ==
                 ['0', '0'], 'cores: %s %d runs as nobody but is not '
                 'dumpable (/proc/PID/status is root\'s) and has '
                 'RLIMIT_CORE 0'
                 % (what, pid), diag='%r %r' % (sb.st_uid, lim))
        victims = worker_pids(d.pid)
        for pid in victims:
            os.kill(pid, signal.SIGSEGV)
        wait_until(lambda: all(p not in worker_pids(d.pid)
                               for p in victims), 10)
        time.sleep(0.5)
        left = []
        for root, _, names in os.walk(d.dir):
            for n in names:
                path = os.path.join(root, n)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, 'rb') as f:
                    if n.startswith('core') or has_secret(f.read()):
                        left.append(path)
        left = [p for p in left if not p.startswith(control)]
        t.eq(left, [], 'cores: %d workers killed with SIGSEGV left no core '
             'and no file with the password' % len(victims))
        if cored:
            t.ok(True, 'cores: control: an ordinary dumpable process of '
                 'the same user left a core in such a directory, so the '
                 'check above can fail')
        else:
            t.skip('cores: control: an ordinary process leaves a core',
                   'core_pattern %r writes no core into the directory'
                   % pattern)
        t.ok(d.running() and wait_until(lambda: len(worker_pids(d.pid))
                                        == 2, 10),
             'cores: the daemon replaced its workers')
    finally:
        d.stop()


def case_auth_files(env):
    a, work = env['a'], env['work']
    adir = os.path.join(work, 'auth')
    os.mkdir(adir, 0o755)

    def conf_for(path):
        conf = os.path.join(adir, os.path.basename(path) + '.conf')
        with open(conf, 'w') as f:
            f.write('[maildatd]\n'                          # 1
                    'database = %s/x.db\n'                  # 2
                    '[credentials corp]\n'                  # 3
                    'auth_file = %s\n'                      # 4
                    '[target a]\nurl = %s\ncredentials = corp\n'
                    % (adir, path, a.url('priv')))
        return conf

    def check(path, accept, why, what, sep=': '):
        conf = conf_for(path)
        res = harness.run([MAILDATD, '-n', '-c', conf], timeout=20)
        if accept:
            t.eq((res.returncode, res.stdout), (0, 'configuration OK\n'),
                 'auth-files: %s: accepted by maildatd -n' % what,
                 diag=str(res))
        else:
            t.ok(res.returncode == 2 and ('%s:4: credentials corp: %s%s%s'
                                          % (conf, path, sep, why))
                 in res.stderr,
                 'auth-files: %s: refused by maildatd -n with file:line '
                 '(%s)' % (what, why), diag=str(res))
        res = harness.run([CTL, 'scan', '-A', path, a.url('priv')],
                          timeout=60)
        if accept:
            t.ok(res.returncode == 0 and ' ok ' in res.stdout,
                 'auth-files: %s: maildatctl scan -A logs on, ok' % what,
                 diag=str(res))
        else:
            t.ok(res.returncode == 1 and res.stdout == '' and
                 ('%s%s%s' % (path, sep, why)) in res.stderr,
                 'auth-files: %s: refused by maildatctl scan -A, exit 1'
                 % what, diag=str(res))
        t.ok(not has_secret((res.stdout + res.stderr).encode()),
             'auth-files: %s: the password is not printed' % what)

    for mode in (0o644, 0o640, 0o604, 0o700, 0o660):
        p = os.path.join(adir, 'm%04o.auth' % mode)
        write_auth(p, USER, PASSWORD, mode)
        check(p, False, 'mode %04o is too open' % mode, 'mode %04o' % mode)
    for mode in (0o600, 0o400):
        p = os.path.join(adir, 'm%04o.auth' % mode)
        write_auth(p, USER, PASSWORD, mode)
        check(p, True, None, 'mode %04o' % mode)
    good = os.path.join(adir, 'm0600.auth')
    link = os.path.join(adir, 'link.auth')
    os.symlink(good, link)
    check(link, False, 'is a symbolic link; refusing to follow it',
          'a symbolic link to a 0600 file (O_NOFOLLOW)', sep=' ')
    hard = os.path.join(adir, 'hard.auth')
    os.link(good, hard)
    check(hard, False, 'has 2 hard links; refusing a file that is also '
          'elsewhere', 'a hard link to a 0600 file', sep=' ')
    os.unlink(hard)
    d = os.path.join(adir, 'dir.auth')
    os.mkdir(d, 0o700)
    check(d, False, 'is not a regular file', 'a directory', sep=' ')
    fifo = os.path.join(adir, 'fifo.auth')
    os.mkfifo(fifo, 0o600)
    # lib/authfile.c opens with O_NONBLOCK: without it this waited for a
    # writer forever (maildatd -n, scan -A, and a reload in the daemon).
    check(fifo, False, 'is not a regular file', 'a FIFO (no hang)', sep=' ')


def query_attacks(db, outside):
    """(description, SQL) of statements maildatctl query must refuse."""
    lib = '/lib/x86_64-linux-gnu/libc.so.6'
    return [
        ('INSERT', "INSERT INTO location (location, host, port, share, "
         "path) VALUES ('x', 'x', 0, 'x', '')"),
        ('INSERT through a CTE', "WITH v(x) AS (SELECT 1) INSERT INTO "
         "alert (rule) SELECT 'x' FROM v"),
        ('UPDATE', "UPDATE location SET host = 'evil'"),
        ('DELETE', 'DELETE FROM crawl'),
        ('REPLACE', "REPLACE INTO route (location_id, seq) VALUES (1, 1)"),
        ('DROP VIEW', 'DROP VIEW crawls'),
        ('CREATE TEMP TABLE', 'CREATE TEMP TABLE t (x)'),
        ('ATTACH', "ATTACH DATABASE '%s' AS evil" % outside),
        ('ATTACH a URI', "ATTACH 'file:%s?mode=rwc' AS evil" % outside),
        ('PRAGMA writable_schema = 1', 'PRAGMA writable_schema = 1'),
        ('PRAGMA writable_schema = ON', 'PRAGMA writable_schema=ON'),
        ('PRAGMA query_only = 0', 'PRAGMA query_only = 0'),
        ('PRAGMA journal_mode = DELETE', 'PRAGMA journal_mode = DELETE'),
        ('PRAGMA user_version = 99', 'PRAGMA user_version = 99'),
        ('load_extension()', "SELECT load_extension('%s')" % lib),
        ('load_extension() in a subquery', "SELECT (SELECT "
         "load_extension('%s', 'x'))" % lib),
        ('a second statement', 'SELECT 1; DELETE FROM crawl'),
        ('VACUUM INTO', "VACUUM INTO '%s'" % outside),
        ('BEGIN', 'BEGIN IMMEDIATE'),
        ('SAVEPOINT', 'SAVEPOINT s'),
    ]


def file_digest(paths):
    """A digest of the contents of PATHS (a missing file reads as
    empty)."""
    h = hashlib.sha256()
    for p in paths:
        try:
            with open(p, 'rb') as f:
                data = f.read()
        except OSError:
            data = b''
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def case_query(env):
    d = env.get('secrets_daemon')
    if d is None or not os.path.exists(d.db):
        t.ok(False, 'query: the secrets case left a database to query')
        return
    work = env['work']
    outside = os.path.join(work, 'outside.db')
    # The -shm file is SQLite's shared index, not data: a reader of a
    # WAL database creates it (and an empty -wal) if it is missing.
    files = [d.db, d.db + '-wal']
    before = file_digest(files)
    uri = 'file:%s?mode=ro' % urllib.parse.quote(d.db)
    for user in (None, 'nobody'):
        for what, sql in query_attacks(d.db, outside):
            res = d.ctl('query', sql, user=user)
            t.ok(res.returncode == 1 and 'query refused' in res.stderr and
                 res.stdout == '',
                 'query: %s refused (as %s)' % (what, user or 'root'),
                 diag=str(res))
    t.ok(not os.path.exists(outside), 'query: no file made by ATTACH or '
         'VACUUM INTO')
    t.eq(file_digest(files), before, 'query: the database and its WAL '
         'are unchanged, byte for byte')
    con = sqlite3.connect(uri, uri=True)
    try:
        ws = con.execute("SELECT count(*) FROM sqlite_master WHERE "
                         "name = 't' OR sql LIKE '%evil%'").fetchone()
    finally:
        con.close()
    d.fix_owner()
    t.eq(ws, (0,), 'query: no schema object added')
    res = d.ctl('--format', 'json', 'query',
                'SELECT count(*) AS n FROM crawls')
    try:
        n = json.loads(res.stdout)[0]['n']
    except (ValueError, IndexError, KeyError):
        n = None
    t.ok(res.returncode == 0 and n and n > 0, 'query: a SELECT still works '
         '(%s crawls)' % n, diag=str(res))

    # A database its user may read but not write (root's, 0644, in a
    # directory of root's): the daemon is stopped, so there is no -shm.
    harness._ensure_unix_user(OTHER_USER)
    rodir = os.path.join(work, 'rodb')
    os.mkdir(rodir, 0o755)
    ro = os.path.join(rodir, 'copy.db')
    shutil.copy(d.db, ro)
    os.chmod(ro, 0o644)
    before = file_digest([ro])
    res = harness.run(['runuser', '-u', OTHER_USER, '--', CTL, '--db', ro,
                       'query', 'SELECT count(*) AS n FROM crawls'],
                      timeout=30)
    t.diag('query: on a database %s may not write: exit %d: %s'
           % (OTHER_USER, res.returncode, (res.stdout + res.stderr).strip()))
    t.ok(res.returncode in (0, 1) and (res.returncode == 0 or
                                       ro in res.stderr),
         'query: on a database its user cannot write: an answer or a '
         'message naming the file (README: a stopped WAL database needs '
         'write access to its directory)', diag=str(res))
    t.eq((file_digest([ro]), sorted(os.listdir(rodir))),
         (before, ['copy.db']), 'query: ... the file is unchanged and no '
         '-wal or -shm file appears')
    for what, sql in query_attacks(ro, outside)[:3]:
        res = harness.run(['runuser', '-u', OTHER_USER, '--', CTL, '--db',
                           ro, 'query', sql], timeout=30)
        t.eq(res.returncode, 1, 'query: %s on that database: exit 1' % what,
             diag=str(res))
    t.eq(file_digest([ro]), before, 'query: ... and it is still unchanged')


def ctrl_bytes(text):
    return [c for c in text if ord(c) < 0x20 or ord(c) == 0x7f]


def case_syslog(env):
    a, work, slog = env['a'], env['work'], env['slog']
    lodd = '\\\\127.0.0.1@%d\\%s\\%s' % (a.port, ODD_SHARE, ODD_DIR)
    lctrl = loc(a.port, 'ctrl', 'NAMECTRL')
    odd_url = 'smb://127.0.0.1:%d/%s/%s' % (a.port, url_quote(ODD_SHARE),
                                            url_quote(ODD_DIR))
    # A rule of our own whose message holds control characters: a
    # newline that would forge a second syslog line, BEL, ESC, CR, DEL.
    evil = ("SELECT location AS key, 'first' || char(10) || '<11>Jan  1 "
            "00:00:00 forged[1]: line' || char(7) || char(27) || '[2J' || "
            "char(13) || char(127) || location AS message FROM locations "
            "WHERE location LIKE '%NAMECTRL'")
    d = Daemon(work, 'syslog',
               target('odd', odd_url) +
               target('ctrl', a.url('ctrl', 'NAMECTRL')) +
               '[rule evil]\nseverity = warning\nquery = %s\n' % evil,
               workers=2, extra_global='interval = 1h\ntimeout = 10s\n')
    slog.clear()
    try:
        d.start('--once', wait_started=False)
        rc = d.wait(60)
    finally:
        d.stop()
    t.eq(rc, 1, 'syslog: --once: exit 1 (malformed postoffices)',
         diag=d.log()[-2000:])
    rows = dict((r[1], r) for r in d.crawls())
    t.eq((rows.get(lctrl) or [None] * 8)[4], 'malformed',
         'syslog: a postoffice name with a control byte is malformed',
         diag=repr(rows))
    t.like((rows.get(lctrl) or [''] * 8)[5] or '', 'control character',
           'syslog: ... "name holds a control character"')
    t.ok(lodd in rows, 'syslog: the location with spaces, quotes, %% and ; '
         'round-trips into the database: %s' % lodd, diag=repr(list(rows)))
    msgs = wait_until(lambda: [m for m in slog.messages()
                               if 'evil' in m] and slog.messages(), 5)
    msgs = slog.messages()
    for m in msgs:
        t.diag('syslog: %s' % m)
    raw = [m for m in msgs if ctrl_bytes(m)]
    t.eq(raw, [], 'syslog: no raw control byte in any of the %d messages '
         'received' % len(msgs))
    ev = [m for m in msgs if 'alert' in m and 'evil' in m]
    t.ok(ev and all(x in ev[0] for x in ('\\x0a', '\\x07', '\\x1b',
                                         '\\x0d', '\\x7f')),
         'syslog: the rule\'s control characters arrive as \\xNN',
         diag=repr(ev))
    mal = [m for m in msgs if 'malformed' in m and 'NAMECTRL' in m]
    t.ok(mal, 'syslog: the malformed alert for the control-byte name is '
         'sent (escaped)', diag=repr(msgs))
    oddm = [m for m in msgs if 'malformed' in m and lodd in m]
    t.ok(oddm, 'syslog: the alert names the odd location exactly', diag=repr(
        msgs))
    res = d.ctl('--format', 'json', 'query', "SELECT location FROM "
                "postoffices WHERE location LIKE '%odd%'")
    try:
        got = [r['location'] for r in json.loads(res.stdout)]
    except ValueError:
        got = None
    t.eq(got, [lodd], 'syslog: maildatctl query shows it as it is',
         diag=str(res))


def case_traversal(env):
    a, work, trav = env['a'], env['work'], env['trav']
    sentinel = os.path.join(trav, 'x.XTN')
    calib = os.path.join(trav, 'calib.XTN')
    old = time.time() - 3 * 86400
    for p in (sentinel, calib):
        os.utime(p, (old, old - 86400))
    # Does a read through Samba update the access time here (relatime)?
    res = a.smbclient('trav', 'get calib.XTN /dev/null')
    calibrated = res.returncode == 0 and os.stat(calib).st_atime > old + 60
    db = os.path.join(work, 'trav.db')
    res = harness.run([CTL, '--db', db, '--format', 'json', 'scan',
                       '--save', a.url('trav', 'TRAV')], timeout=60)
    try:
        r = json.loads(res.stdout)[0]
    except (ValueError, IndexError):
        r = {}
    t.eq(r.get('outcome'), 'malformed', 'traversal: an XTN id "../../x" '
         'makes the postoffice malformed', diag=str(res))
    t.like(r.get('detail') or '', r'XTN id is not 8 hex digits',
           'traversal: ... the detail says "XTN id is not 8 hex digits"')
    t.eq(r.get('address'), 'TRAV/PO', 'traversal: ... the identity is '
         'still read')
    t.ok('SENTINEL' not in res.stdout + res.stderr,
         'traversal: the sentinel\'s postoffice is not among the routes')
    con = sqlite3.connect(db)
    try:
        n = con.execute("SELECT count(*) FROM route WHERE to_postoffice = "
                        "'SENTINEL'").fetchone()[0]
    finally:
        con.close()
    t.eq(n, 0, 'traversal: no route to the sentinel in the database')
    if calibrated:
        t.ok(os.stat(sentinel).st_atime < old + 60,
             'traversal: the sentinel ../../x.XTN was never read (its '
             'access time is unchanged)')
    else:
        t.skip('traversal: the sentinel was never read (access time)',
               'reads do not update access times on this file system')
    # '.' and '..' in configured URLs.
    bad = ['smb://127.0.0.1/share/../etc', 'smb://127.0.0.1/share/./PO',
           'smb://127.0.0.1/share/%2e%2e/x', 'smb://127.0.0.1/share/a/..',
           'smb://127.0.0.1/../x']
    conf = os.path.join(work, 'dots.conf')
    lines = ['[maildatd]', 'database = %s/x.db' % work]
    where = []
    for i, u in enumerate(bad):
        lines += ['[target t%d]' % i, 'url = %s' % u]
        where.append(len(lines))
    with open(conf, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    res = harness.run([MAILDATD, '-n', '-c', conf], timeout=20)
    t.eq((res.returncode, res.stdout), (2, ''), 'traversal: maildatd -n '
         'refuses "." and ".." in URLs: exit 2', diag=str(res))
    for u, line in zip(bad, where):
        t.ok('%s:%d: url: ' % (conf, line) in res.stderr and
             "'.' and '..' are not allowed" in res.stderr,
             'traversal: %s refused at %s:%d' % (u, os.path.basename(conf),
                                                 line), diag=res.stderr)
        r2 = harness.run([CTL, 'scan', u], timeout=20)
        t.eq(r2.returncode, 2, 'traversal: maildatctl scan %s: exit 2' % u,
             diag=str(r2))


def case_unit(env):
    src = os.path.join(harness.srcdir(), 'etc', 'maildatd.service.in')
    with open(src) as f:
        text = f.read()
    keys = {}
    for line in text.splitlines():
        if '=' in line and not line.lstrip().startswith('#'):
            k, _, v = line.partition('=')
            keys.setdefault(k.strip(), []).append(v.strip())
    want = {'NoNewPrivileges': 'yes', 'ProtectSystem': 'strict',
            'PrivateTmp': 'yes', 'LimitCORE': '0'}
    for k, v in sorted(want.items()):
        t.eq(keys.get(k), [v], 'unit: %s=%s' % (k, v))
    fam = ' '.join(keys.get('RestrictAddressFamilies', [])).split()
    t.ok(fam and set(fam) <= {'AF_UNIX', 'AF_INET', 'AF_INET6',
                              'AF_NETLINK'},
         'unit: RestrictAddressFamilies= limited to %s' % ' '.join(fam))
    caps = ' '.join(keys.get('CapabilityBoundingSet', [])).split()
    t.ok(caps and 'CAP_SYS_ADMIN' not in caps and
         set(caps) <= {'CAP_SETUID', 'CAP_SETGID', 'CAP_CHOWN',
                       'CAP_DAC_OVERRIDE'},
         'unit: CapabilityBoundingSet= only what the start needs: %s'
         % ' '.join(caps))
    sa = shutil.which('systemd-analyze')
    if sa is None:
        t.skip('unit: systemd-analyze', 'systemd-analyze is not installed')
        return
    udir = os.path.join(env['work'], 'unit')
    os.mkdir(udir)
    unit = os.path.join(udir, 'maildatd.service')
    built = text
    for k, v in (('sbindir', os.path.dirname(MAILDATD)),
                 ('bindir', os.path.dirname(CTL)), ('sysconfdir', '/etc'),
                 ('localstatedir', '/var'), ('runstatedir', '/run')):
        built = built.replace('@%s@' % k, v)
    t.ok('@' not in re.sub(r'#.*', '', built), 'unit: every @...@ '
         'placeholder filled in')
    with open(unit, 'w') as f:
        f.write(built)
    res = harness.run([sa, 'verify', '--man=no', unit], timeout=60)
    t.ok(res.returncode == 0, 'unit: systemd-analyze verify: no complaint',
         diag=str(res))
    res = harness.run([sa, 'security', '--offline=yes', '--no-pager',
                       unit], timeout=60)
    m = re.search(r'Overall exposure level for \S+: ([\d.]+) (\S+)',
                  res.stdout)
    if res.returncode != 0 and m is None:
        t.skip('unit: systemd-analyze security --offline',
               'not supported here: %s' % res.stderr.strip()[:200])
        return
    t.ok(m is not None, 'unit: systemd-analyze security reports an '
         'exposure level', diag=str(res)[-2000:])
    if m:
        score = float(m.group(1))
        t.diag('unit: systemd-analyze security --offline=yes: exposure %s '
               '%s' % (m.group(1), m.group(2)))
        for line in res.stdout.splitlines():
            if line.startswith('\u2717'):       # the settings that cost
                t.diag('unit:   %s' % re.sub(r'\s+', ' ', line)[:120])
        t.ok(score <= 5.0, 'unit: exposure level %.1f is at most 5.0'
             % score)


# ---------------------------------------------------------------------------

def build_tree(work):
    srv = os.path.join(work, 'srv')
    sound = os.path.join(srv, 'sound')
    priv = os.path.join(srv, 'priv')
    priv2 = os.path.join(srv, 'priv2')
    odd = os.path.join(srv, 'odd')
    ctrl = os.path.join(srv, 'ctrl')
    trav = os.path.join(srv, 'trav')
    mkpo('-N', 'CORP', '-P', 'HQ', '--route', 'CORP/BRANCH', sound)
    mkpo('-N', 'SEC', '-P', 'VAULT', priv)
    mkpo('-N', 'SEC', '-P', 'VAULT2', '-s', '33-33333', priv2)
    mkpo('-N', 'ODD', '-P', 'ONE', '-s', '44-44444', '--route', 'ODD/TWO',
         '--damage', 'xtn-size', os.path.join(odd, ODD_DIR))
    mkpo('-N', 'CTL', '-P', 'BELL', '-s', '55-55555', '--damage',
         'name-ctrl', os.path.join(ctrl, 'NAMECTRL'))
    mkpo('-N', 'TRAV', '-P', 'PO', '-s', '66-66666', '--route',
         'SNET/OTHER', '--damage', 'xtn-id', os.path.join(trav, 'TRAV'))
    # A sound XTN file naming SENTINEL, where "../../x" would lead.
    tmp = os.path.join(work, 'sentinel-po')
    mkpo('-N', 'Q', '-P', 'Q', '--route', 'SNET/SENTINEL', tmp)
    xtn = os.path.join(tmp, 'XTN', os.listdir(os.path.join(tmp, 'XTN'))[0])
    shutil.copy(xtn, os.path.join(trav, 'x.XTN'))
    shutil.copy(xtn, os.path.join(trav, 'calib.XTN'))
    make_readable(srv)
    return sound, priv, priv2, odd, ctrl, trav


def main():
    with harness.suite(t, 'needs root (smbd, useradd, privilege '
                       'drop)') as work:
        sound, priv, priv2, odd, ctrl, trav = build_tree(work)
        opts = {'valid users': USER, 'guest ok': 'no'}
        with harness.Samba(work, shares={'MAILDAT$': sound, 'priv': priv,
                                         'priv2': priv2, ODD_SHARE: odd,
                                         'ctrl': ctrl, 'trav': trav},
                           users={USER: PASSWORD},
                           share_options={'priv': opts,
                                          'priv2': opts}) as sa, \
                harness.SyslogReceiver(work) as slog:
            Daemon.syslog = 'unix:' + slog.path
            env = {'work': work, 'a': sa, 'slog': slog, 'trav': trav}
            harness.run_cases(t, [
                ('secrets, privileges, control', case_secrets),
                ('privileges: refusals', case_privileges_refusals),
                ('auth files', case_auth_files),
                ('pid file and lock links', case_pidfile_links),
                ('control socket race', case_socket_race),
                ('one daemon per database', case_one_daemon),
                ('no cores', case_cores),
                ('query', case_query),
                ('syslog', case_syslog),
                ('traversal', case_traversal),
                ('unit', case_unit)], env, only_env='MAILDAT_SECURITY_CASES')


if __name__ == '__main__':
    main()
