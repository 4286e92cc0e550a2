#!/usr/bin/env python3
"""Fault injection against the maildatd daemon.

Runs the real maildatd (as root, dropping to 'nobody', in the foreground
with -d) against private Samba servers and fake TCP servers, breaks
things around it, and checks after each case that the daemon still runs
(or exits as designed), that its database passes PRAGMA integrity_check,
and that no crawl was lost or recorded twice: the crawl rows equal the
crawls the daemon counted (the status command's crawls_* totals, read when
nothing is held in memory), and no location has two crawl rows with the
same started_us.

Cases:
  smbd-killed   the whole smbd (process group) SIGKILLed while it serves a
                crawl reading large XTN files: that crawl ends unreachable,
                timeout or error, the other server's location keeps being
                crawled, a restarted smbd makes the location ok again
  onedown       postoffices one folder down (a short and a 180-character
                folder name) whose server is stopped, SIGSTOPped past the
                deadline, whose workers overrun the deadline, and whose
                workers are killed: each gets a failed
                crawl with its URL's outcome and message, the parent lives
  rundir-gone   the daemon's run directory removed while it runs (as a
                /tmp cleaner may): new workers get a new one, crawls stay ok
  idle-restart  smbd restarted between two rounds while the worker holds
                the connection it used for two folders of one share: the
                next round's crawls are ok (the dead connection is noticed
                and replaced, not reported unreachable)
  rewrite       MASTER.GLB and NETWORK.GLB replaced (rename) and truncated
                in place in a loop while crawled: outcomes only ok,
                malformed or error, no worker crash, no mixed identity
  stall         a server that never answers, one that reads the first
                packet and stalls, and a proxy to smbd that stalls after
                the SMB negotiate: timeout within the deadline, other
                locations on schedule
  garbage       servers answering random bytes, an HTTP response, or an
                SMB2 header with garbage: error or unreachable with a
                message, no crash
  disk-full     the database on a small tmpfs filled up: results held in
                memory and logged, written once space returns
  locked        the database held by an outside writer (BEGIN IMMEDIATE)
                for 12 s, longer than the busy timeout: held, then written
  restarts      the daemon SIGKILLed 50 times at random moments: database
                sound, no doubled crawl, schedule resumes, workers die with
                their parent, leftover run directories counted
  clock         the wall clock stepped back 1 h and forward 1 day under
                libfaketime (monotonic clock left alone): crawls go on,
                recorded with the faked times
  sighup-storm  20 SIGHUPs in 1 s while crawling

Set MAILDAT_FAULT_CASES to a comma-separated list of case names to run
only those.  Prints TAP for automake's tap-driver.sh.  Needs root (smbd,
mount, useradd, privilege drop).  Every process started here is stopped
in a finally block; the harness watchdog catches the rest if this script
is killed.
"""

import errno
import glob
import os
import pwd
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402
from harness import (TcpServer, alive, is_asan, kill_pids,  # noqa: E402
                     loc, make_readable, mkpo, our_workers, run_dirs,
                     stop_all_daemons, target, wait_until, worker_pids)

t = harness.Tap()
MAILDATD = harness.tool('maildatd')
NOBODY = pwd.getpwnam('nobody')
RESTART_USER = 'mdfaults'       # the daemon's user in the restart case
OUTCOMES = ('ok', 'not-postoffice', 'malformed', 'auth-failed',
            'access-denied', 'unreachable', 'timeout', 'error')

_mounts = []                    # tmpfs mounts to undo


# ---------------------------------------------------------------------------
# Helpers (the common ones are harness.py's)
# ---------------------------------------------------------------------------

def status_total(st):
    """The crawls the daemon counted since start (all outcomes) that make
    crawl rows: less those of addresses that never answered, which the
    store only counts on their location (results_summarised)."""
    return sum(int(st.get('crawls_' + o, 0)) for o in OUTCOMES) - \
        int(st.get('results_summarised', 0))


def worker_deaths(log):
    """Log lines of workers that died during a job (not deadline kills)."""
    return re.findall(r'.*worker \d+ (?:killed by signal|exited with '
                      r'status) .* during .*', log)


class Daemon(harness.Daemon):
    """harness.Daemon with the totals check_sound() compares."""

    def doubled(self):
        """Crawl rows sharing a location and a started_us."""
        return self.query(
            'SELECT location_id, started_us, count(*) FROM crawl '
            'GROUP BY location_id, started_us HAVING count(*) > 1')

    def stable_totals(self, tries=30):
        """(crawls the daemon counted, crawl rows in the database), read
        when nothing is held or queued for the recorder and no result
        arrived in between; None if that never happened."""
        def settled(st):
            return st.get('results_held') == '0' and \
                st.get('results_queued') == '0'
        for _ in range(tries):
            s1 = self.status()
            n = self.count()
            s2 = self.status()
            # Nothing held or queued at either read: a result written in
            # between would land in the count but not in either total.
            if s1 and s2 and status_total(s1) == status_total(s2) and \
                    settled(s1) and settled(s2):
                return status_total(s2), n
            time.sleep(0.2)
        return None

    def round_sum(self):
        """Crawls of the rounds the log says finished."""
        return sum(int(n) for n in re.findall(
            r'round finished: (\d+) crawls', self.log()))


def check_sound(d, what, rc, totals=None, want_rc=0):
    """The common end of a case, after the daemon stopped: its exit
    status, integrity, no doubled crawl, and no crawl lost: the rows equal
    the crawls the daemon counted while it ran (TOTALS, from
    stable_totals()) plus those it finished while stopping, and every
    round it logged as finished is in the database."""
    t.eq(rc, want_rc, '%s: SIGTERM, exit %s' % (what, want_rc),
         diag=d.log()[-3000:])
    t.eq(d.integrity(), [('ok',)], '%s: PRAGMA integrity_check ok' % what)
    t.eq(d.doubled(), [], '%s: no location has two crawl rows with one '
         'started_us' % what)
    rows = d.count()
    rs = d.round_sum()
    t.ok(rs <= rows <= rs + 10, '%s: every crawl of the rounds logged as '
         'finished is in the database (%d rows, %d in finished rounds)'
         % (what, rows, rs))
    t.ok(totals is not None and totals[0] == totals[1] and totals[0] > 0
         and rows >= totals[1],
         '%s: crawl rows = crawls counted by status (crawls_*) while '
         'running (%s rows, %s counted; %d rows at the end)'
         % (what, totals and totals[1], totals and totals[0], rows))


# ---------------------------------------------------------------------------
# Fake servers
# ---------------------------------------------------------------------------

def h_first_packet_then_stall(conn, srv):
    conn.settimeout(5)
    try:
        data = conn.recv(65536)
    except socket.timeout:
        data = b''
    if data:
        srv.notes.append(len(data))
    srv.hold(conn)


def h_random_close(conn, srv):
    conn.settimeout(2)
    try:
        conn.recv(65536)
    except socket.timeout:
        pass
    conn.sendall(os.urandom(64))
    conn.close()


def h_http(conn, srv):
    conn.settimeout(2)
    try:
        conn.recv(65536)
    except socket.timeout:
        pass
    body = b'<html><body>400 Bad Request</body></html>\n'
    conn.sendall(b'HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n'
                 b'Content-Type: text/html\r\nContent-Length: %d\r\n'
                 b'Connection: close\r\n\r\n' % len(body) + body)
    conn.close()


def h_smb2_garbage(conn, srv):
    """A NetBIOS session header and an SMB2 protocol id, then garbage."""
    conn.settimeout(2)
    try:
        if not conn.recv(65536):
            return
    except socket.timeout:
        return
    payload = b'\xfeSMB' + os.urandom(124)
    conn.sendall(b'\x00' + len(payload).to_bytes(3, 'big') + payload)
    time.sleep(0.3)
    conn.close()


def h_random_hold(conn, srv):
    conn.settimeout(2)
    try:
        conn.recv(65536)
    except socket.timeout:
        pass
    conn.sendall(os.urandom(1024))
    srv.hold(conn)


class StallProxy(TcpServer):
    """Forwards to 127.0.0.1:TARGET, but passes on only the first FORWARD
    messages of the client: a server that stalls after the negotiate."""

    def __init__(self, target_port, forward=2):
        TcpServer.__init__(self, self._proxy, 'StallProxy')
        self.target_port = target_port
        self.forward = forward
        self.server_msgs = []       # sizes of the server's answers

    def _proxy(self, conn, srv):
        up = socket.create_connection(('127.0.0.1', self.target_port), 5)
        self._conns.append(up)
        done = threading.Event()

        def pump_back():
            try:
                while not self.stopping.is_set():
                    data = up.recv(65536)
                    if not data:
                        break
                    self.server_msgs.append(len(data))
                    conn.sendall(data)
            except OSError:
                pass
            done.set()
        threading.Thread(target=pump_back, daemon=True).start()
        sent = 0
        while not self.stopping.is_set():
            r, _, _ = select.select([conn], [], [], 0.2)
            if not r:
                if done.is_set() and sent < self.forward:
                    break
                continue
            data = conn.recv(65536)
            if not data:
                break
            if sent < self.forward:
                up.sendall(data)
                sent += 1
            # Later requests are swallowed: the client waits for answers.
        for s in (conn, up):
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def smbd_children(smb):
    """The processes smbd forked (one per client connection)."""
    try:
        with open('/proc/%d/task/%d/children' % (smb.proc.pid,
                                                  smb.proc.pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rchar(pid):
    """Bytes PID has read so far (rchar of /proc/PID/io), or 0."""
    try:
        with open('/proc/%d/io' % pid) as f:
            for line in f:
                if line.startswith('rchar:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def restart_on_port(smb, what):
    """Start the stopped SMB again on its old port.  Returns the time it
    was up (microseconds), or None after a failing line if it got another
    port."""
    old_port = smb.port
    smb.start()
    if smb.port != old_port:
        t.ok(False, '%s: smbd restarted on its old port (%d, got %d)'
             % (what, old_port, smb.port))
        return None
    return int(time.time() * 1e6)


def case_smbd_killed(env):
    a, b = env['a'], env['b']
    la = loc(a.port, 'MAILDAT$')
    lb = loc(b.port, 'big')
    d = Daemon(env['work'], 'smbdkill',
               target('a', a.url('MAILDAT$')) + target('big', b.url('big')),
               workers=2, extra_global='interval = 1s\nbackoff_max = 2s\n'
                                       'timeout = 8s\n')
    try:
        d.start()
        t.ok(wait_until(lambda: d.count(lb, 'ok') >= 1, 15),
             'smbd-killed: the large postoffice is crawled ok first',
             diag=lambda: repr(d.crawls()[-5:]) + d.log()[-2000:])
        rows = [r for r in d.crawls() if r[1] == lb and r[4] == 'ok']
        if rows:
            t.diag('smbd-killed: a crawl of the large postoffice (9000 '
                   'routes, three 2 MB XTN files) takes %.3f s'
                   % ((rows[-1][3] - rows[-1][2]) / 1e6))
        # Kill smbd while it is reading the XTN files for a crawl: the
        # smbd serving the connection has read more than 64 KiB since the
        # last look, 2 ms ago.
        # (Each worker has a connection, served by an smbd of its own.)
        killed = False
        deadline = time.monotonic() + 15
        kids, last, looked = [], {}, 0
        while time.monotonic() < deadline:
            time.sleep(0.002)
            if time.monotonic() - looked > 0.05:
                kids = smbd_children(b)
                looked = time.monotonic()
            now = dict((p, rchar(p)) for p in kids)
            if any(now[p] - last.get(p, now[p]) > 64 * 1024 for p in kids):
                os.killpg(b.proc.pid, signal.SIGKILL)
                kill_us = int(time.time() * 1e6)
                killed = True
                break
            last = now
        t.ok(killed, 'smbd-killed: smbd SIGKILLed while it read for a crawl')
        if not killed:
            return
        b.proc.wait()
        b.stop()                    # the helpers outside its group
        down_at = time.monotonic()
        na = d.count(la, 'ok')
        time.sleep(4)
        t.ok(d.running(), 'smbd-killed: the daemon keeps running')
        t.ok(d.count(la, 'ok') >= na + 2,
             'smbd-killed: the other server is still crawled ok meanwhile '
             '(%d -> %d)' % (na, d.count(la, 'ok')))
        after = [r for r in d.crawls() if r[1] == lb and r[3] > kill_us]
        t.ok(after and all(r[4] in ('unreachable', 'timeout', 'error')
                           for r in after),
             'smbd-killed: every crawl of the dead server since the kill is '
             'unreachable, timeout or error (%s)'
             % sorted(set(r[4] for r in after)), diag=repr(after))
        mid = [r for r in after if r[2] < kill_us]
        t.ok(len(mid) == 1 and mid[0][4] != 'ok' and mid[0][5],
             'smbd-killed: the crawl under way when smbd died is recorded '
             'once, failed, with a message', diag=repr(mid))
        if mid:
            t.diag('smbd-killed: crawl under way: %s: %s (%.2f s after the '
                   'kill)' % (mid[0][4], mid[0][5],
                              (mid[0][3] - kill_us) / 1e6))
        # Back up, on the same port.
        up_us = restart_on_port(b, 'smbd-killed')
        if up_us is None:
            return
        t.ok(wait_until(lambda: [r for r in d.crawls() if r[1] == lb and
                                 r[2] > up_us and r[4] == 'ok'], 12),
             'smbd-killed: after smbd restarts, the location is ok again '
             '(within %.1f s of the kill)' % (time.monotonic() - down_at),
             diag=lambda: repr([r for r in d.crawls()
                                if r[1] == lb][-6:]) + d.log()[-2000:])
        st = d.status() or {}
        t.diag('smbd-killed: workers_replaced %s, jobs_done %s'
               % (st.get('workers_replaced'), st.get('jobs_done')))
        t.eq(worker_deaths(d.log()), [], 'smbd-killed: no worker died '
             'during a crawl')
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
        if not b.running:
            try:
                b.start()
            except Exception as e:
                t.diag('smbd-killed: could not restart smbd: %s' % e)
    check_sound(d, 'smbd-killed', rc, totals=totals)


def case_idle_restart(env):
    a = env['a']
    locs = [loc(a.port, 'many', 'PO01'), loc(a.port, 'many', 'PO02')]
    body = (target('one', a.url('many', 'PO01')) +
            target('two', a.url('many', 'PO02')))
    d = Daemon(env['work'], 'idlerestart', body, workers=1,
               extra_global='interval = 8s\n')
    try:
        d.start()
        t.ok(wait_until(lambda: all(d.count(l, 'ok') >= 1 for l in locs),
                        15), 'idle-restart: both folders of the share '
             'crawled ok by the one worker',
             diag=lambda: repr(d.crawls()[-4:]) + d.log()[-2000:])
        before = int(time.time() * 1e6)
        a.stop()
        up_us = restart_on_port(a, 'idle-restart')
        if up_us is None:
            return
        rows = [r for r in d.crawls() if r[2] > before]
        t.eq(rows, [], 'idle-restart: smbd restarted between rounds (%.1f '
             's, no crawl meanwhile)' % ((up_us - before) / 1e6))
        got = wait_until(lambda: len([r for r in d.crawls()
                                      if r[2] > up_us]) >= 2, 15)
        after = [r for r in d.crawls() if r[2] > up_us][:2]
        t.ok(got and sorted(r[1] for r in after) == sorted(locs) and
             all(r[4] == 'ok' for r in after),
             'idle-restart: the next round crawls both folders ok over a '
             'new connection', diag=repr(after) + d.log()[-1500:])
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
        if not a.running:
            a.start()
    check_sound(d, 'idle-restart', rc, totals=totals)


LONG_PO = 'MAILDATA-' + 'L' * 171            # a folder name of 180 characters


def stop_group(smb, sig):
    """Send SIG to every process of smb's instance (smbd, the children
    serving connections, its helpers)."""
    kill_pids([p.pid for p in smb.processes()], sig)


def case_onedown_outage(env):
    """Postoffices one folder down (short and long names) whose server
    fails in three ways: each failure is recorded for every postoffice the
    URL had found, with the URL's own outcome and message, and the parent
    lives on (sched_add_missing once read freed memory here)."""
    work = env['work']
    srv = os.path.join(work, 'onedown-srv')
    mkpo('-N', 'WG', '-P', 'OFFICE', '--wgpo', os.path.join(srv, 'mail',
                                                          'WGPO0000'))
    mkpo('-N', 'DEEP', '-P', 'LONG', '-s', '31-31313',
         os.path.join(srv, 'deep', LONG_PO))
    mkpo('-N', 'DEEP', '-P', 'SHORT', '-s', '31-31314',
         os.path.join(srv, 'deep', 'MAILDATA'))
    make_readable(srv)
    smb = harness.Samba(work, shares={'mail': os.path.join(srv, 'mail'),
                                      'deep': os.path.join(srv, 'deep')})
    smb.start()
    bases = [loc(smb.port, 'mail'), loc(smb.port, 'deep')]
    downs = [loc(smb.port, 'mail', 'WGPO0000'),
             loc(smb.port, 'deep', LONG_PO),
             loc(smb.port, 'deep', 'MAILDATA')]
    d = Daemon(work, 'onedown', target('mail', smb.url('mail')) +
               target('deep', smb.url('deep')), workers=2,
               extra_global='interval = 1s\nbackoff_max = 1s\n'
                            'timeout = 4s\nconnect_timeout = 1s\n')

    def rows_since(us):
        return [r for r in d.crawls() if r[2] >= us]

    def failed_alike(since, outcomes):
        """Each one-down location has a failed row since SINCE that
        carries the outcome and message of its URL's failure in the same
        round (the same started time is not shared; the message is)."""
        rows = rows_since(since)
        base = dict((r[1], r) for r in rows if r[1] in bases and
                    r[4] in outcomes)
        got = {}
        for r in rows:
            if r[1] in downs and r[4] in outcomes:
                got[r[1]] = r
        if len(base) < 2 or len(got) < 3:
            return None
        return base, got

    def check_phase(what, since, outcomes):
        res = wait_until(lambda: failed_alike(since, outcomes) or
                         not d.running(), 25)
        if not d.running():
            raise harness.HarnessError('onedown: %s: the parent died; '
                                       'log:\n%s' % (what, d.log()[-3000:]))
        t.ok(res is not None and res is not True, 'onedown: %s: every postoffice found one '
             'folder down (short and 180-character names) gets a failed '
             'crawl (%s)' % (what, '/'.join(outcomes)),
             diag=repr(rows_since(since)[-10:]) + d.log()[-2000:])
        if res is None or res is True:
            return
        base, got = res
        msgs = set(r[5] for r in base.values())
        t.ok(all(r[5] and r[5] in msgs for r in got.values()),
             'onedown: %s: their message is the URL\'s own (%s)'
             % (what, sorted(msgs)), diag=repr(got))
        st = d.status()
        t.ok(st is not None and st.get('locations') == '2',
             'onedown: %s: status answers' % what)

    def back_ok(what):
        since = int(time.time() * 1e6)
        ok = wait_until(lambda: all(any(r[1] == l and r[4] == 'ok'
                                        for r in rows_since(since))
                                    for l in downs), 25)
        t.ok(ok, 'onedown: %s: ok again afterwards' % what,
             diag=repr(rows_since(since)[-10:]) + d.log()[-2000:])

    try:
        d.start()
        t.ok(wait_until(lambda: all(d.count(l, 'ok') >= 1 for l in downs),
                        20), 'onedown: the three postoffices one folder '
             'down are found and crawled ok',
             diag=lambda: repr(d.crawls()[-6:]) + d.log()[-2000:])
        # 1. The server goes away: the probe finds the port closed.
        since = int(time.time() * 1e6)
        smb.stop()
        check_phase('server stopped', since, ('unreachable',))
        port = smb.port
        smb.start()
        t.eq(smb.port, port, 'onedown: smbd back on its port')
        back_ok('server stopped')
        # 2. The server stops answering: the crawls time out.
        since = int(time.time() * 1e6)
        stop_group(smb, signal.SIGSTOP)
        try:
            check_phase('server SIGSTOPped past the deadline', since,
                        ('timeout',))
        finally:
            stop_group(smb, signal.SIGCONT)
        back_ok('server SIGSTOPped')
        # 3. The workers themselves stop: the parent's deadline kills them.
        since = int(time.time() * 1e6)
        stop_group(smb, signal.SIGSTOP)
        try:
            busy = wait_until(lambda: (d.status() or {}).get(
                'workers_busy') == '2', 10)
            t.ok(busy, 'onedown: both workers busy on the stalled server')
            for pid in worker_pids(d.pid):
                os.kill(pid, signal.SIGSTOP)
            check_phase('workers killed at the deadline', since,
                        ('timeout',))
            t.ok('worker killed' in ' '.join(
                r[5] or '' for r in rows_since(since)),
                 'onedown: the deadline killed the workers (\'crawl did not '
                 'finish within 4 s; worker killed\')')
        finally:
            stop_group(smb, signal.SIGCONT)
        back_ok('workers killed at the deadline')
        # 4. The workers crawling them are killed from outside.
        since = int(time.time() * 1e6)
        stop_group(smb, signal.SIGSTOP)
        try:
            busy = wait_until(lambda: (d.status() or {}).get(
                'workers_busy') == '2', 10)
            t.ok(busy, 'onedown: both workers busy on the stalled server')
            for pid in worker_pids(d.pid):
                os.kill(pid, signal.SIGKILL)
            check_phase('worker killed', since, ('error',))
        finally:
            stop_group(smb, signal.SIGCONT)
        back_ok('worker killed')
        t.ok('ERROR: AddressSanitizer' not in d.log() and
             'runtime error' not in d.log(),
             'onedown: no sanitizer report in the daemon\'s log')
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
        stop_group(smb, signal.SIGCONT)
        smb.stop()
    check_sound(d, 'onedown', rc, totals=totals)


def case_rundir_gone(env):
    """Something cleaning /tmp removes the daemon's run directory (empty
    for a moment between two workers): new workers get a new one and the
    crawls stay ok."""
    a = env['a']
    la = loc(a.port, 'MAILDAT$')
    d = Daemon(env['work'], 'rundirgone', target('a', a.url('MAILDAT$')),
               workers=1, extra_global='interval = 1s\njobs_per_worker = 2\n')
    try:
        d.start()
        t.ok(wait_until(lambda: d.count(la, 'ok') >= 1, 15),
             'rundir-gone: crawled ok first')
        rd = d.rundir()
        t.ok(rd is not None and os.path.isdir(rd),
             'rundir-gone: the workers\' run directory %s found' % rd)
        shutil.rmtree(rd)
        since = int(time.time() * 1e6)
        got = wait_until(lambda: len([r for r in d.crawls()
                                      if r[2] > since and r[1] == la]) >= 4,
                         20)
        after = [r for r in d.crawls() if r[2] > since and r[1] == la]
        t.ok(got and all(r[4] == 'ok' for r in after[1:]),
             'rundir-gone: the next crawls (new workers) are ok',
             diag=repr(after) + d.log()[-2000:])
        new = d.rundir()
        t.ok(new is not None and new != rd and os.path.isdir(new) and
             'run directory is gone; the workers use %s' % new in d.log(),
             'rundir-gone: a new run directory, logged', diag=d.log()[-1500:])
        totals = d.stable_totals()
        rc = d.stop()
        t.ok(new is not None and not os.path.exists(new),
             'rundir-gone: the new run directory is removed at exit')
    finally:
        d.stop()
    check_sound(d, 'rundir-gone', rc, totals=totals)


def master_versions(work):
    """The bytes of two sound postoffices (NETA/POA and NETB/POB), each
    with one route, and a truncated MASTER.GLB and NETWORK.GLB."""
    out = {}
    for tag in ('A', 'B'):
        p = os.path.join(work, 'ver' + tag)
        mkpo('-N', 'NET' + tag, '-P', 'PO' + tag, '-s', '11-1111' + str(
            ord(tag) - 64), '--route', 'R%s/X' % tag, p)
        with open(os.path.join(p, 'GLB', 'MASTER.GLB'), 'rb') as f:
            out['master' + tag] = f.read()
        with open(os.path.join(p, 'GLB', 'NETWORK.GLB'), 'rb') as f:
            out['network' + tag] = f.read()
    return out


class Rewriter(threading.Thread):
    """Rewrites the GLB files of the postoffices in DIRS in a loop:
    MASTER.GLB replaced (rename) by version A, B or a truncated copy and
    truncated in place then restored; NETWORK.GLB likewise."""

    def __init__(self, dirs, v):
        threading.Thread.__init__(self, daemon=True, name='Rewriter')
        self.dirs = dirs
        self.v = v
        self.stop_ev = threading.Event()
        self.ops = 0
        self.error = None

    @staticmethod
    def replace(path, data):
        tmp = os.path.join(os.path.dirname(path), '.tmp-' +
                           os.path.basename(path))
        with open(tmp, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    @staticmethod
    def truncate_restore(path, size):
        with open(path, 'r+b') as f:
            data = f.read()
            f.seek(0)
            f.truncate(size)
            f.flush()
            time.sleep(0.002)
            f.seek(0)
            f.write(data)

    def run(self):
        rnd = random.Random(4188)
        cur = {}
        try:
            while not self.stop_ev.is_set():
                for d in self.dirs:
                    master = os.path.join(d, 'GLB', 'MASTER.GLB')
                    network = os.path.join(d, 'GLB', 'NETWORK.GLB')
                    op = rnd.randrange(6)
                    if op == 0:
                        tag = rnd.choice('AB')
                        self.replace(master, self.v['master' + tag])
                        cur[d] = tag
                    elif op == 1:
                        self.replace(master, self.v['masterA'][:100])
                    elif op == 2:
                        # In place: cut, then the same bytes back.
                        if os.path.getsize(master) == 176:
                            self.truncate_restore(master, 100)
                    elif op == 3:
                        self.replace(network, self.v['network' +
                                                     cur.get(d, 'A')])
                    elif op == 4:
                        self.replace(network, self.v['networkA'][:60])
                    else:
                        if os.path.getsize(network) == 122:
                            self.truncate_restore(network, 61)
                    self.ops += 1
                time.sleep(0.003)
        except Exception as e:              # reported by the case
            self.error = e


def case_rewrite(env):
    a = env['a']
    flip = env['flip']
    dirs = [os.path.join(flip, 'F%d' % i) for i in range(1, 4)]
    locs = [loc(a.port, 'flip', 'F%d' % i) for i in range(1, 4)]
    body = ''.join(target('f%d' % i, a.url('flip', 'F%d' % i))
                   for i in range(1, 4))
    d = Daemon(env['work'], 'rewrite', body, workers=3,
               extra_global='interval = 1s\nbackoff_max = 1s\n'
                            'timeout = 10s\n')
    rw = Rewriter(dirs, env['versions'])
    try:
        d.start()
        wait_until(lambda: d.count() >= 3, 10)
        rw.start()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            d.control('crawl')          # every location due now
            time.sleep(0.05)
        rw.stop_ev.set()
        rw.join(5)
        time.sleep(1.5)
        st = d.status() or {}
        running = d.running()
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        rw.stop_ev.set()
        d.stop()
    t.ok(rw.error is None, 'rewrite: the rewriting thread ran (%d '
         'operations)' % rw.ops, diag=repr(rw.error))
    rows = [r for r in d.crawls() if r[1] in locs]
    outcomes = {}
    for r in rows:
        outcomes[r[4]] = outcomes.get(r[4], 0) + 1
    t.diag('rewrite: %d crawls while rewritten: %s' % (len(rows), ', '.join(
        '%s %d' % kv for kv in sorted(outcomes.items()))))
    errors = sorted(set(re.sub(r'smb://\S+', 'URL', r[5] or '')
                        for r in rows if r[4] == 'error'))
    for e in errors[:6]:
        t.diag('rewrite: error detail: %s' % e)
    t.ok(running, 'rewrite: the daemon kept running')
    t.ok(len(rows) >= 40, 'rewrite: many crawls during the rewrites (%d)'
         % len(rows))
    t.ok(set(outcomes) <= {'ok', 'malformed', 'error'},
         'rewrite: every outcome is ok, malformed or error (%s)'
         % sorted(outcomes), diag=repr([r for r in rows if r[4] not in
                                        ('ok', 'malformed', 'error')][:5]))
    t.ok(outcomes.get('ok', 0) > 0 and outcomes.get('malformed', 0) > 0,
         'rewrite: both sound and damaged states were read')
    pairs = sorted(set((r[6], r[7]) for r in rows), key=repr)
    t.ok(set(pairs) <= {(None, None), ('NETA', 'POA'), ('NETB', 'POB')},
         'rewrite: the identity read is only ever NETA/POA or NETB/POB '
         '(%s)' % pairs)
    t.eq(st.get('workers_replaced'), '0', 'rewrite: no worker crashed '
         '(workers_replaced 0)', diag=repr(st))
    t.eq(worker_deaths(d.log()), [], 'rewrite: no worker died during a '
         'crawl')
    check_sound(d, 'rewrite', rc, totals=totals)


def case_stall(env):
    a = env['a']
    la = loc(a.port, 'MAILDAT$')
    with harness.HungServer() as hung, \
            TcpServer(h_first_packet_then_stall, 'FirstPacket') as first, \
            StallProxy(a.port, forward=2) as proxy:
        stalls = [('never answers', hung.port),
                  ('reads the first packet, then stalls', first.port),
                  ('stalls after the negotiate', proxy.port)]
        # The credentials are never checked: the servers stall first.
        auth = os.path.join(env['work'], 'stall.auth')
        with open(auth, 'w') as f:
            f.write('username = monitor\npassword = secret\n')
        os.chmod(auth, 0o600)
        body = target('a', a.url('MAILDAT$'))
        body += '[credentials corp]\nauth_file = %s\n' % auth
        for i, (_, port) in enumerate(stalls):
            body += target('s%d' % i, 'smb://127.0.0.1:%d/MAILDAT$' % port,
                           timeout='3s', credentials='corp')
        d = Daemon(env['work'], 'stall', body, workers=4,
                   extra_global='interval = 1s\nbackoff_max = 2s\n'
                                'lockout_after = 2\n')
        try:
            d.start()
            time.sleep(8)
            running = d.running()
            totals = d.stable_totals()
            rc = d.stop()
        finally:
            d.stop()
        t.diag('stall: the proxy passed on 2 client messages; smbd '
               'answered with messages of %s bytes' % proxy.server_msgs[:6])
    rows = d.crawls()
    t.ok(running, 'stall: the daemon kept running')
    for name, port in stalls:
        mine = [r for r in rows if r[1] == loc(port, 'MAILDAT$')]
        # lib/smbio.c smbio_classify() takes libsmbclient's "SPNEGO login
        # failed: {Device Timeout} ..." for a refused logon.
        t.ok(mine and all(r[4] == 'timeout' for r in mine),
             'stall: a server that %s: every crawl is a timeout (%d)'
             % (name, len(mine)), diag=repr(mine[-2:]))
        longest = max([(r[3] - r[2]) / 1e6 for r in mine] or [0])
        t.ok(0 < longest <= 3.5, 'stall: ... and ends within the 3 s '
             'deadline (longest %.2f s)' % longest)
        if mine:
            t.diag('stall: %s: %s' % (name, mine[-1][5]))
    mine = [r for r in rows if r[1] == la]
    gaps = [(n[2] - p[3]) / 1e6 for p, n in zip(mine, mine[1:])]
    t.ok(len(mine) >= 6 and all(r[4] == 'ok' for r in mine),
         'stall: the sound server is crawled ok meanwhile (%d crawls in 8 s)'
         % len(mine), diag=repr(mine))
    t.ok(gaps and max(gaps) < 2.0, 'stall: ... on schedule (largest gap '
         '%.2f s, interval 1 s)' % max(gaps or [0]))
    t.eq(worker_deaths(d.log()), [], 'stall: no worker died during a crawl')
    refused = re.findall(r'credentials corp refused.*', d.log())
    t.ok(not refused, 'stall: the lockout guard does not suspend '
         'credentials that a stalled server never checked',
         diag='\n'.join(refused))
    check_sound(d, 'stall', rc, totals=totals)


def case_garbage(env):
    a = env['a']
    la = loc(a.port, 'MAILDAT$')
    kinds = [('random bytes, then close', h_random_close,
              ('error', 'unreachable')),
             ('an HTTP response', h_http, ('error', 'unreachable')),
             ('an SMB2 header and garbage', h_smb2_garbage,
              ('error', 'unreachable')),
             ('random bytes, held open', h_random_hold,
              ('error', 'unreachable', 'timeout'))]
    servers = [TcpServer(h, name) for name, h, _ in kinds]
    try:
        for s in servers:
            s.start()
        body = target('a', a.url('MAILDAT$'))
        for i, s in enumerate(servers):
            body += target('g%d' % i, 'smb://127.0.0.1:%d/MAILDAT$' % s.port,
                           timeout='3s')
        d = Daemon(env['work'], 'garbage', body, workers=4,
                   extra_global='interval = 1s\nbackoff_max = 1s\n')
        try:
            d.start()
            time.sleep(7)
            running = d.running()
            st = d.status() or {}
            totals = d.stable_totals()
            rc = d.stop()
        finally:
            d.stop()
    finally:
        for s in servers:
            s.stop()
    rows = d.crawls()
    t.ok(running, 'garbage: the daemon kept running')
    for (name, _, allowed), s in zip(kinds, servers):
        mine = [r for r in rows if r[1] == loc(s.port, 'MAILDAT$')]
        t.ok(len(mine) >= 2 and all(r[4] in allowed and r[5]
                                    for r in mine),
             'garbage: a server answering %s: %d crawls, each %s with a '
             'message' % (name, len(mine), ' or '.join(allowed)),
             diag=repr(mine))
        if mine:
            t.diag('garbage: %s: %s: %s' % (name, mine[-1][4], mine[-1][5]))
    t.ok(d.count(la) >= 5 and d.count(la) == d.count(la, 'ok'),
         'garbage: the sound server is crawled ok meanwhile (%d)'
         % d.count(la))
    t.eq(worker_deaths(d.log()), [], 'garbage: no worker died during a '
         'crawl (no crash in the SMB client)')
    t.diag('garbage: workers_replaced %s' % st.get('workers_replaced'))
    check_sound(d, 'garbage', rc, totals=totals)


def fill(path):
    """Write PATH until the file system is full; return its size."""
    n = 0
    chunk = b'\0' * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                n += os.write(fd, chunk)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EFBIG):
                    break
                raise
    finally:
        os.close(fd)
    return n


def set_fsize(pid, soft):
    """Set the soft RLIMIT_FSIZE of PID (None: unlimited) with
    prlimit(1), as the daemon's user: that needs no CAP_SYS_RESOURCE,
    which root may lack in a container."""
    res = harness.run(['runuser', '-u', 'nobody', '--', 'prlimit', '--pid',
                       pid, '--fsize=%s:' % ('unlimited' if soft is None
                                             else soft)], timeout=30)
    if res.returncode != 0:
        raise harness.HarnessError('prlimit RLIMIT_FSIZE: %s' % (res,))


def case_disk_full(env):
    """The database's file system fills up: a small tmpfs and a filler
    file; where no tmpfs can be mounted (or MAILDAT_FAULT_NO_TMPFS is
    set), RLIMIT_FSIZE set on the running daemon with prlimit()."""
    a = env['a']
    work = env['work']
    full = os.path.join(work, 'fulldb')
    os.mkdir(full)
    how = 'tmpfs'
    if os.environ.get('MAILDAT_FAULT_NO_TMPFS'):
        how = 'rlimit'
    else:
        res = harness.run(['mount', '-t', 'tmpfs', '-o', 'size=2m,'
                           'mode=0755,uid=%d,gid=%d' % (NOBODY.pw_uid,
                                                        NOBODY.pw_gid),
                           'tmpfs', full], timeout=30)
        if res.returncode == 0:
            _mounts.append(full)
        else:
            t.diag('disk-full: cannot mount a tmpfs here (%s): using '
                   'RLIMIT_FSIZE instead' % res.stderr.strip())
            how = 'rlimit'
    if how == 'rlimit':
        os.chown(full, NOBODY.pw_uid, NOBODY.pw_gid)
    filler = os.path.join(full, 'filler')
    d = Daemon(work, 'diskfull',
               target('a', a.url('MAILDAT$')) +
               target('p1', a.url('many', 'PO01')),
               workers=2, extra_global='interval = 1s\ntimeout = 5s\n',
               dbdir=full)

    def ignore_sigxfsz():
        # A write past RLIMIT_FSIZE then fails with EFBIG instead of
        # killing the daemon.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        d.start(preexec=ignore_sigxfsz if how == 'rlimit' else None)
        t.ok(wait_until(lambda: d.count() >= 4, 10),
             'disk-full: crawls recorded before the disk fills')
        if how == 'tmpfs':
            size = fill(filler)
            t.diag('disk-full: tmpfs of 2 MiB, filler of %d KiB written; '
                   'database files %s' % (size // 1024, ', '.join(
                       '%s %d KiB' % (n, os.path.getsize(
                           os.path.join(full, n)) // 1024)
                       for n in sorted(os.listdir(full)) if n != 'filler')))
        else:
            cur = max(os.path.getsize(d.db + sfx) for sfx in ('', '-wal')
                      if os.path.exists(d.db + sfx))
            set_fsize(d.pid, cur)
            t.diag('disk-full: RLIMIT_FSIZE of the daemon set to %d bytes'
                   % cur)
        filled = time.monotonic()
        t.ok(wait_until(lambda: 'holding results until it can be written'
                        in d.log(), 10),
             'disk-full: the daemon logs that it holds the results',
             diag=lambda: d.log()[-2000:])
        m = re.search(r'.*holding results.*', d.log())
        if m:
            t.diag('disk-full: %s' % m.group(0))
        t.ok(wait_until(lambda: int((d.status() or {}).get('results_held',
                                                           0)) >= 4, 10),
             'disk-full: status shows results held (%s)'
             % (d.status() or {}).get('results_held'))
        t1 = status_total(d.status() or {})
        time.sleep(2)
        t2 = status_total(d.status() or {})
        t.ok(t2 > t1, 'disk-full: crawls go on while the disk is full '
             '(%d -> %d)' % (t1, t2))
        t.ok(d.running(), 'disk-full: the daemon keeps running')
        t.diag('disk-full: full for %.1f s' % (time.monotonic() - filled))
        if how == 'tmpfs':
            os.unlink(filler)
        else:
            set_fsize(d.pid, None)
        t.ok(wait_until(lambda: 'held results written' in d.log(), 12),
             'disk-full: once space returns the held results are written',
             diag=lambda: d.log()[-2000:])
        m = re.search(r'.*held results written.*', d.log())
        if m:
            t.diag('disk-full: %s' % m.group(0))
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
        try:
            os.unlink(filler)
        except OSError:
            pass
    check_sound(d, 'disk-full', rc, totals=totals)


def case_locked(env):
    a = env['a']
    la, lp = loc(a.port, 'MAILDAT$'), loc(a.port, 'many', 'PO02')
    d = Daemon(env['work'], 'locked',
               target('a', a.url('MAILDAT$')) +
               target('p2', a.url('many', 'PO02')),
               workers=2, extra_global='interval = 1s\ntimeout = 5s\n')
    holder = None
    try:
        d.start()
        t.ok(wait_until(lambda: d.count() >= 4, 10),
             'locked: crawls recorded before the lock')
        holder = subprocess.Popen(
            ['runuser', '-u', 'nobody', '--', 'sqlite3', d.db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=harness._child_env(),
            start_new_session=True,
            preexec_fn=harness._make_preexec(os.getpid()))
        holder.stdin.write(b".timeout 10000\nBEGIN IMMEDIATE;\n"
                           b"SELECT 'locked';\n")
        holder.stdin.flush()
        r, _, _ = select.select([holder.stdout], [], [], 15)
        line = holder.stdout.readline() if r else b''
        t.eq(line.strip(), b'locked', 'locked: an outside writer holds '
             'BEGIN IMMEDIATE')
        locked_at = time.monotonic()
        lock_us = int(time.time() * 1e6)
        before = d.count()
        answered = unanswered = 0
        while time.monotonic() - locked_at < 12:
            if d.status(timeout=1) is not None:
                answered += 1
            else:
                unanswered += 1
            time.sleep(0.5)
        during = d.count()
        unlock_us = int(time.time() * 1e6)
        t.ok('holding results until it can be written' in d.log(),
             'locked: the daemon logs that it holds the results',
             diag=d.log()[-2000:])
        t.eq(during, before, 'locked: no crawl written while the database '
             'is locked (%d rows)' % before)
        holder.stdin.write(b'COMMIT;\n.quit\n')
        holder.stdin.flush()
        holder.wait(10)
        t.ok(wait_until(lambda: 'held results written' in d.log(), 12),
             'locked: after the release the held results are written',
             diag=lambda: d.log()[-2000:])
        m = re.search(r'.*held results written.*', d.log())
        if m:
            t.diag('locked: %s' % m.group(0))
        t.diag('locked: while locked, status answered %d of %d times '
               'within 1 s' % (answered, answered + unanswered))
        # The daemon waits 250 ms for a lock, then holds its results and
        # retries from the loop: status and crawls go on meanwhile.
        t.ok(answered >= (answered + unanswered) // 2,
             'locked: status answers within 1 s while the database is '
             'locked (%d of %d)' % (answered, answered + unanswered))
        n_locked = len(d.query('SELECT id FROM crawl WHERE started_us '
                               'BETWEEN ? AND ?', (lock_us, unlock_us)))
        t.ok(n_locked >= 12, 'locked: crawls go on while the database is '
             'locked (%d crawls started in 12 s; 2 locations, interval '
             '1 s)' % n_locked)
        time.sleep(1.5)
        totals = d.stable_totals()
        counts = (d.count(la), d.count(lp))
        rc = d.stop()
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait()
        d.stop()
    t.ok(abs(counts[0] - counts[1]) <= 2, 'locked: both locations have '
         'about as many crawls (%d, %d)' % counts)
    check_sound(d, 'locked', rc, totals=totals)


def case_restarts(env):
    a = env['a']
    harness._ensure_unix_user(RESTART_USER)
    user = pwd.getpwnam(RESTART_USER)
    locs = [loc(a.port, 'many', 'PO%02d' % i) for i in range(3, 6)]
    body = ''.join(target('p%d' % i, a.url('many', 'PO%02d' % i))
                   for i in range(3, 6))
    d = Daemon(env['work'], 'restarts', body, workers=2,
               extra_global='interval = 1s\ntimeout = 5s\n',
               user=RESTART_USER)
    before_dirs = set(run_dirs(user.pw_uid))
    rnd = random.Random()
    kills = 0
    orphans = []                # workers that outlived their parent
    lifetimes = []
    rcs = []
    try:
        for i in range(50):
            d.start(wait_started=False)
            life = rnd.uniform(0, 1.5)
            lifetimes.append(life)
            time.sleep(life)
            ws = worker_pids(d.pid)
            os.kill(d.pid, signal.SIGKILL)
            rcs.append(d.proc.wait())
            kills += 1
            gone = wait_until(lambda: not [p for p in ws if alive(p)] and
                              not our_workers(), 3, 0.02)
            if not gone:
                orphans.append((i, [p for p in ws if alive(p)] +
                                our_workers()))
                kill_pids(our_workers())
        after_loop = int(time.time() * 1e6)
        t.diag('restarts: 50 SIGKILLs after %.2f s on average; %d crawl rows '
               'so far' % (sum(lifetimes) / len(lifetimes), d.count()))
        t.eq([rc for rc in rcs if rc != -signal.SIGKILL], [],
             'restarts: no daemon exited by itself before its SIGKILL (no '
             'start-up failure, e.g. over the stale control socket)',
             diag=lambda: '\n'.join(l for l in d.log().splitlines()
                                    if 'libsmbclient' not in l)[-3000:])
        t.diag('restarts: %d of 50 daemons got as far as "started"'
               % d.log().count('maildatd: started:'))
        left = sorted(set(run_dirs(user.pw_uid)) - before_dirs)
        t.eq(orphans, [], 'restarts: every worker died with its SIGKILLed '
             'parent (PR_SET_PDEATHSIG)')
        t.ok(len(left) <= kills, 'restarts: %d /tmp/maildatd.* run '
             'directories left by %d SIGKILLed parents (a SIGKILLed parent '
             'cannot remove its own; at most one each)' % (len(left), kills))
        t.eq(d.integrity(), [('ok',)], 'restarts: integrity_check ok after '
             '50 SIGKILLs')
        rows_before = d.count()
        d.start()
        t.ok(wait_until(lambda: all([r for r in d.crawls() if r[1] == l and
                                     r[2] > after_loop] for l in locs), 8),
             'restarts: after the last restart every location is crawled '
             'again', diag=lambda: d.log()[-2000:])
        time.sleep(1.5)
        totals = d.stable_totals()
        ws = worker_pids(d.pid)
        rc = d.stop()
        t.ok(wait_until(lambda: not [p for p in ws if alive(p)], 3),
             'restarts: the workers of the last daemon exit with it')
        t.eq(sorted(set(run_dirs(user.pw_uid)) - before_dirs), left,
             'restarts: the cleanly stopped daemon removed its run '
             'directory')
    finally:
        d.stop()
        kill_pids(our_workers())
        for path in set(run_dirs(user.pw_uid)) - before_dirs:
            shutil.rmtree(path, ignore_errors=True)
    t.eq(rc, 0, 'restarts: the last daemon exits 0 on SIGTERM',
         diag=d.log()[-2000:])
    t.eq(d.integrity(), [('ok',)], 'restarts: PRAGMA integrity_check ok')
    t.eq(d.doubled(), [], 'restarts: no location has two crawl rows with '
         'one started_us')
    bad = d.query('SELECT count(*) FROM crawl WHERE finished_us < '
                  'started_us OR location_id NOT IN (SELECT id FROM '
                  'location)')
    t.eq(bad, [(0,)], 'restarts: every crawl row is whole (finish after '
         'start, a location of its own)')
    t.ok(totals is not None and totals[0] > 0 and
         totals[0] == totals[1] - rows_before,
         'restarts: the crawls the last daemon counted are all in the '
         'database (%s counted, %s new rows)'
         % (totals and totals[0], totals and totals[1] - rows_before))


def faketime_lib():
    for path in sorted(glob.glob('/usr/lib/*/faketime/libfaketime.so.1') +
                       glob.glob('/usr/lib/faketime/libfaketime.so.1') +
                       glob.glob('/usr/local/lib/faketime/'
                                 'libfaketime.so.1')):
        return path
    return None


def case_clock(env, asan):
    lib = faketime_lib()
    if lib is None:
        t.skip('clock', 'libfaketime is not installed (Debian package '
               'libfaketime); the wall clock cannot be stepped safely '
               'otherwise')
        return
    if asan:
        t.skip('clock', 'AddressSanitizer build: LD_PRELOAD of libfaketime '
               'is refused')
        return
    a = env['a']
    work = env['work']
    locs = [loc(a.port, 'MAILDAT$'), loc(a.port, 'many', 'PO06')]
    stamp = os.path.join(work, 'faketime.rc')

    def set_offset(sec):
        tmp = stamp + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%+d\n' % sec)
        os.chmod(tmp, 0o644)
        os.replace(tmp, stamp)
    set_offset(0)
    d = Daemon(work, 'clock', target('a', a.url('MAILDAT$')) +
               target('p6', a.url('many', 'PO06')),
               workers=2, extra_global='interval = 1s\ntimeout = 5s\n')
    fenv = {'LD_PRELOAD': lib, 'FAKETIME_TIMESTAMP_FILE': stamp,
            'FAKETIME_NO_CACHE': '1', 'FAKETIME_DONT_FAKE_MONOTONIC': '1'}
    phases = []
    uptimes = []
    try:
        d.start(env=fenv)
        # The last phase outlasts a crawl stuck until its 5 s deadline.
        for off, secs in ((0, 3), (-3600, 4), (86400, 7), (0, 1)):
            set_offset(off)
            start = time.time()
            time.sleep(secs)
            phases.append((off, start, time.time()))
            st = d.status()
            t.ok(st is not None, 'clock: status answers at offset %+d s'
                 % off)
            uptimes.append(int((st or {}).get('uptime_seconds', -1)))
        running = d.running()
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
    rows = d.crawls()
    t.ok(running, 'clock: the daemon kept running')
    # daemon/control.c control_status() counts it on the monotonic clock.
    t.ok(all(0 <= u <= 60 for u in uptimes) and uptimes == sorted(uptimes),
         'clock: status uptime_seconds follows the time the daemon ran, '
         'not the wall clock (%s)' % uptimes)

    def phase_of(us):
        for i, (off, s, e) in enumerate(phases):
            if s + off - 1.0 <= us / 1e6 <= e + off + 1.0:
                return i
        return None

    def show():
        return '\n'.join(repr((r[1][-8:], r[2], phase_of(r[2]),
                                phase_of(r[3]), r[4], r[5])) for r in rows) \
            + '\n' + d.log()[-2000:]
    per = [[r for r in rows if phase_of(r[2]) == i and r[1] == l and
            r[4] == 'ok'] for i in range(3) for l in locs]
    t.diag('clock: ok crawls per phase and location (offset 0, -1 h, '
           '+1 d): %s' % [len(p) for p in per])
    t.ok(all(len(p) >= 1 for p in per) and
         sum(len(p) for p in per[2:]) >= 6,
         'clock: the schedule goes on: every location is crawled ok in '
         'every phase, dated by the faked wall clock (0, -1 h, +1 d)',
         diag=show)
    stray = [r for r in rows if phase_of(r[2]) is None or
             phase_of(r[3]) is None]
    t.eq(stray, [], 'clock: every crawl is dated by the wall clock of a '
         'phase (start and finish)')
    # libsmbclient's own request timers follow the wall clock: a step
    # during a crawl may time it out at once, or leave it to the
    # parent's deadline.  Only such crawls may fail.
    spanning = [r for r in rows if phase_of(r[2]) != phase_of(r[3])]
    bad = [r for r in rows if r[4] != 'ok' and r not in spanning]
    t.eq(bad, [], 'clock: every crawl within one phase is ok', diag=show)
    t.diag('clock: %d crawls spanned a clock step: %s' % (
        len(spanning), '; '.join('%s: %s' % (r[4], r[5]) for r in spanning)))
    t.eq(worker_deaths(d.log()), [], 'clock: no worker died')
    check_sound(d, 'clock', rc, totals=totals)


def case_sighup_storm(env):
    a = env['a']
    locs = [loc(a.port, 'MAILDAT$')] + [loc(a.port, 'many', 'PO%02d' % i)
                                        for i in (7, 8)]
    body = target('a', a.url('MAILDAT$')) + ''.join(
        target('p%d' % i, a.url('many', 'PO%02d' % i)) for i in (7, 8))
    d = Daemon(env['work'], 'sighup', body, workers=3,
               extra_global='interval = 1s\ntimeout = 5s\n')
    try:
        d.start()
        wait_until(lambda: d.count() >= 3, 10)
        for _ in range(20):
            d.signal(signal.SIGHUP)
            time.sleep(0.05)
        storm_end = int(time.time() * 1e6)
        time.sleep(0.5)
        t.ok(d.running(), 'sighup-storm: the daemon survives 20 SIGHUPs in '
             '1 s')
        res = d.ctl('status')
        t.ok(res.returncode == 0 and 'pid: %d\n' % d.pid in res.stdout,
             'sighup-storm: maildatctl status answers (exit 0)',
             diag=str(res))
        t.ok(wait_until(lambda: all([r for r in d.crawls() if r[1] == l and
                                     r[2] > storm_end] for l in locs), 5),
             'sighup-storm: every location is crawled after the storm')
        st = d.status() or {}
        n = len(re.findall(r'configuration reloaded', d.log()))
        t.ok(1 <= n <= 20, 'sighup-storm: %d reloads logged (1 to 20; '
             'signals may merge)' % n)
        t.eq((st.get('workers_alive'), st.get('workers_replaced'),
              st.get('locations')), ('3', '0', '3'),
             'sighup-storm: 3 workers alive, none replaced, 3 locations')
        totals = d.stable_totals()
        rc = d.stop()
    finally:
        d.stop()
    check_sound(d, 'sighup-storm', rc, totals=totals)


# ---------------------------------------------------------------------------

def build_tree(work):
    srv = os.path.join(work, 'srv')
    sound = os.path.join(srv, 'sound')
    many = os.path.join(srv, 'many')
    big = os.path.join(srv, 'big')
    flip = os.path.join(srv, 'flip')
    mkpo('-N', 'CORP', '-P', 'HQ', '-s', '22-28798', '--route',
         'CORP/BRANCH', sound)
    for i in range(1, 9):
        mkpo('-N', 'MANY', '-P', 'PO%02d' % i, '-s', '%02d-%05d'
             % (i, 20000 + i), '--route', 'MANY/PO%02d' % (i % 8 + 1),
             os.path.join(many, 'PO%02d' % i))
    # Three networks of 3000 postoffices: three XTN files of about 2 MB.
    routes = []
    for net in ('BA', 'BB', 'BC'):
        routes += ['--route=%s/P%04d' % (net, i) for i in range(3000)]
    mkpo('-N', 'BIG', '-P', 'HQ', '-s', '44-44444', big, *routes)
    for i in range(1, 4):
        mkpo('-N', 'NETA', '-P', 'POA', '-s', '11-11111', '--route',
             'RA/X', os.path.join(flip, 'F%d' % i))
    make_readable(srv)
    versions = master_versions(os.path.join(work, 'versions'))
    return sound, many, big, flip, versions


def main():
    with harness.suite(t, 'needs root (smbd, mount, useradd, privilege '
                       'drop)') as work:
        asan = is_asan(MAILDATD)
        sound, many, big, flip, versions = build_tree(work)
        try:
            with harness.Samba(work, shares={'MAILDAT$': sound,
                                             'many': many,
                                             'flip': flip}) as sa, \
                    harness.Samba(work, shares={'big': big}) as sb, \
                    harness.SyslogReceiver(work) as slog:
                Daemon.syslog = 'unix:' + slog.path
                env = {'work': work, 'a': sa, 'b': sb, 'flip': flip,
                       'versions': versions}
                harness.run_cases(t, [
                    ('smbd-killed', case_smbd_killed),
                    ('onedown', case_onedown_outage),
                    ('rundir-gone', case_rundir_gone),
                    ('idle-restart', case_idle_restart),
                    ('rewrite', case_rewrite),
                    ('stall', case_stall),
                    ('garbage', case_garbage),
                    ('disk-full', case_disk_full),
                    ('locked', case_locked),
                    ('restarts', case_restarts),
                    ('clock', case_clock, asan),
                    ('sighup-storm', case_sighup_storm)],
                    env, only_env='MAILDAT_FAULT_CASES')
        finally:
            stop_all_daemons()
            for m in _mounts:
                harness.run(['umount', m], timeout=30)


if __name__ == '__main__':
    main()
