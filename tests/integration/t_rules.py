#!/usr/bin/env python3
"""Integration test of maildatd's rules and syslog alerts.

Runs the real maildatd (as root, dropping to 'nobody'; in the foreground
with -d, either --once or with a short interval) against private smbd
instances serving postoffice trees written by mkpostoffice, and reads the
alerts it sends through syslog sockets of the test's own (a
harness.SyslogReceiver: a unix datagram socket for ``syslog = unix:PATH``,
RFC 3164 frames, and a UDP port for ``syslog = udp:127.0.0.1:PORT``, RFC
5424).  Each alert frame is traced to its case by the daemon's PID in it.

Cases:
  duplicate-serial   two Exchange connector postoffices (22-28798) on two
                     smbd (127.0.0.1 and 127.0.0.2, as two hosts): one alert
                     in the words of Event 4188, sent once; later rounds do
                     not repeat it
  serial change      one tree rewritten with another serial: the alert
                     clears (same id), serial-changed is raised for that
                     location, and clears at the next crawl
  alerts view        maildatctl alerts [--all], table, json and csv
  duplicate-postoffice  one tree at two shares (sent over UDP, RFC 5424)
  duplicate-address  one NET/PO with two serials at two shares
  two servers on one address  two smbd on 127.0.0.1 (two ports, the same
                     share name) crawled by one worker: each crawl must read
                     its own server, and no alert may come of it
  unreachable        unreachable_after = 2: not after one failed round,
                     raised after two, cleared when smbd is back
  malformed          --damage master-short and --damage checksum
  user rule          [rule connector-serial] severity = notice (PRI 29),
                     [rule duplicate-postoffice] enabled = no,
                     [rule duplicate-serial] severity = crit (PRI 26)
  control characters a user rule whose message holds char(10) and others:
                     escaped as \\xNN on the wire, never raw
  renotify           renotify = 2s, interval = 1s: repeated every ~2 s,
                     not every round
  exactly once       every raise and clear in every database was sent
                     exactly once, and nothing else was sent

Prints TAP for automake's tap-driver.sh.  Needs root (smbd, privilege
drop to nobody).  Every daemon started here is stopped in a finally block,
the Samba servers by their context managers; the harness watchdog catches
the rest if this script is killed.
"""

import collections
import csv
import io
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402
from harness import (make_readable, stop_all_daemons,  # noqa: E402
                     target, wait_until)

t = harness.Tap()

CONNECTOR = '22-28798'
CONNECTOR_RAW = '64839d89681396000000'
FAC_DAEMON = 3 * 8
SEV = {'emerg': 0, 'alert': 1, 'crit': 2, 'err': 3, 'warning': 4,
       'notice': 5, 'info': 6, 'debug': 7}
ISO = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
ALERT_COLUMNS = ['id', 'rule', 'severity', 'state', 'key', 'message',
                 'raised', 'last_seen', 'cleared']

RE3164 = re.compile(r'^<(\d+)>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov'
                    r'|Dec) ([ 1-3]\d) (\d\d):(\d\d):(\d\d) maildatd\[(\d+)\]'
                    r': (.*)$', re.S)
RE5424 = re.compile(r'^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) '
                    r'(\S+) maildatd (\d+) alert - (.*)$', re.S)
REALERT = re.compile(r'^alert (\d+) (raised|cleared|repeated): (\S+) '
                     r'\[([a-z]+)\]: (.*)$', re.S)

# Lets the second connector smbd listen on 127.0.0.2 as well (still
# loopback only): two servers on two addresses, as in an estate.
SECOND_ADDRESS = {'interfaces': '127.0.0.1/8 127.0.0.2/8'}

SLOG = []               # the SyslogReceiver


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def host_of(smb):
    return getattr(smb, 'alias', smb.host)


def url(smb, share):
    """smb://HOST:PORT/SHARE, HOST the address the test uses for SMB."""
    return 'smb://%s:%d/%s' % (host_of(smb), smb.port, share)


def loc(smb, share):
    """The location the store keeps for SHARE of Samba SMB."""
    return harness.loc(smb.port, share, host=host_of(smb))


def mkpo(path, *args):
    """mkpostoffice ARGS PATH, readable by smbd's guest account."""
    harness.mkpo(*(args + (path,)))
    make_readable(path)


def hostname5424():
    """The HOSTNAME the sink puts in RFC 5424 frames."""
    h = socket.gethostname()[:255]
    if not h:
        return '-'
    return ''.join(c if 0x20 < ord(c) < 0x7f else '_' for c in h)


class Frame(object):
    """One syslog frame as received, parsed."""

    def __init__(self, raw, seq):
        self.raw = raw
        self.seq = seq
        self.kind = self.pri = self.pid = self.msg = None
        self.host = self.stamp = None
        m = RE3164.match(raw)
        if m:
            self.kind = '3164'
            self.pri, self.pid, self.msg = int(m.group(1)), \
                int(m.group(7)), m.group(8)
        else:
            m = RE5424.match(raw)
            if m:
                self.kind = '5424'
                self.pri, self.stamp, self.host = int(m.group(1)), \
                    m.group(2), m.group(3)
                self.pid, self.msg = int(m.group(4)), m.group(5)
        self.id = self.what = self.rule = self.sev = self.text = None
        if self.msg is not None:
            m = REALERT.match(self.msg)
            if m:
                self.id = int(m.group(1))
                self.what, self.rule, self.sev, self.text = \
                    m.group(2), m.group(3), m.group(4), m.group(5)
        self.daemon = daemon_of(self.pid)

    def event(self):
        """(what, rule, severity, text)."""
        return (self.what, self.rule, self.sev, self.text)

    def __repr__(self):
        return repr(self.raw)


def frames():
    """Every frame received so far, parsed, in arrival order."""
    return [Frame(m, i) for i, m in enumerate(SLOG[0].messages())]


def frames_of(daemon, pid=None):
    """The frames sent by DAEMON (all its runs), or by its run PID."""
    return [f for f in frames() if f.daemon is daemon and
            (pid is None or f.pid == pid)]


def events(fs):
    return [f.event() for f in fs]


def raised(rule, sev, text):
    return ('raised', rule, sev, text)


def cleared(rule, sev, text):
    return ('cleared', rule, sev, text)


def daemon_of(pid):
    """The Daemon one of whose runs had PID, or None."""
    for d in harness.daemons():
        if pid in d.pids:
            return d
    return None


class Daemon(harness.Daemon):
    """harness.Daemon for these cases: TARGETS a list of (name, URL),
    RULES [rule] sections, EXTRA [maildatd] lines, the alerts sent to
    SYSLOG (default: the unix socket of the SyslogReceiver).  once()
    runs maildatd -d --once."""

    def __init__(self, work, name, targets, extra='', syslog=None,
                 rules='', workers=2):
        harness.Daemon.__init__(
            self, work, name,
            ''.join(target(n, u) for n, u in targets) + rules,
            workers=workers, syslog=syslog or 'unix:' + SLOG[0].path,
            extra_global='timeout = 10s\nconnect_timeout = 3s\n' + extra)

    def once(self, timeout=60):
        """Run --once; return (exit status, pid).  Waits a little for
        the last datagrams to be read by the receiver thread."""
        self.start('--once', wait_started=False)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise harness.HarnessError('maildatd --once did not finish in '
                                       '%d s; log:\n%s' % (timeout,
                                                           self.log()))
        settle()
        return rc, self.pid

    def alerts(self, all_=False):
        """maildatctl alerts [--all] --format json, parsed (None on
        failure)."""
        args = ['alerts', '--format', 'json'] + (['--all'] if all_ else [])
        res = self.ctl(*args)
        if res.returncode != 0:
            return None
        return json.loads(res.stdout) if res.stdout.strip() else []

    def diag(self):
        return 'log of %s:\n%s\nframes:\n%s' % (
            self.name, self.log()[-3000:],
            '\n'.join(repr(f) for f in frames_of(self)))


def settle():
    """Let the receiver thread read what was sent (datagrams are in the
    socket buffer once send() returned)."""
    n = -1
    while True:
        time.sleep(0.15)
        m = len(SLOG[0].messages())
        if m == n:
            return
        n = m


def target_list(smb, *shares):
    return [('%s%d' % (s.rstrip('$').lower(), smb.port), url(smb, s))
            for s in shares]


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def dup_serial_text(env):
    """The two connector postoffices both route to CORP/HUB: joined."""
    return ('Postoffice serial number [%s] is on 2 postoffices joined over '
            'MS Mail (CORP/EXCH1 > CORP/HUB > CORP/EXCH2): the PC MTA stops '
            'with Event 4188: the postoffice CORP/EXCH1 on %s, the '
            'postoffice CORP/EXCH2 on %s'
            % (CONNECTOR, loc(env['sa'], 'MAILDAT$'),
               loc(env['sb'], 'MAILDAT$')))


def case_duplicate_serial(env):
    sa, sb = env['sa'], env['sb']
    d = Daemon(env['work'], 'dupserial',
               target_list(sa, 'MAILDAT$') + target_list(sb, 'MAILDAT$'),
               extra='interval = 1s\n')
    env['dupserial'] = d
    want = dup_serial_text(env)
    try:
        pid = d.start().pid
        f = SLOG[0].wait_for(lambda m: Frame(m, 0).pid == pid and
                             'duplicate-serial' in m, 20)
        t.ok(f is not None, 'duplicate-serial: an alert arrives on the '
             'syslog socket', diag=d.diag)
        if f is None:
            return
        f = Frame(f, 0)
        t.eq(f.event(), raised('duplicate-serial', 'err', want),
             'duplicate-serial: raised, in the words of Event 4188, naming '
             'both NET/PO, their locations and the serial', diag=d.diag)
        t.eq((f.kind, f.pri, f.pid), ('3164', FAC_DAEMON + SEV['err'], pid),
             'duplicate-serial: RFC 3164 frame, PRI 27 (daemon.err), the '
             'daemon\'s PID', diag=repr(f))
        env['dupserial_id'] = f.id
        # Three more full rounds (2 crawls each); rules run at the end of
        # each round, before the next round's crawls are stored.
        c0 = d.ncrawls()
        ok = wait_until(lambda: d.ncrawls() >= c0 + 8, 20, 0.05)
        t.ok(ok, 'duplicate-serial: the daemon goes on crawling every '
             'second (%d -> %d crawls)' % (c0, d.ncrawls()), diag=d.diag)
        settle()
        fs = frames_of(d)
        t.eq(events(fs), [raised('duplicate-serial', 'err', want)],
             'duplicate-serial: after 4 more rounds still exactly one '
             'message on the socket, not repeated', diag=d.diag)
        rows = d.alerts()
        got = [(r['id'], r['rule'], r['severity'], r['state'], r['key'],
                r['message'], r['cleared']) for r in rows or []]
        t.eq(got, [(f.id, 'duplicate-serial', 'err', 'open',
                    'serial ' + CONNECTOR_RAW, want, None)],
             'duplicate-serial: maildatctl alerts: one open alert, same id',
             diag=lambda: str(d.ctl('alerts', '--all')))
        rc = d.stop()
        t.eq(rc, 0, 'duplicate-serial: SIGTERM, exit 0', diag=d.diag)
    finally:
        d.stop()


def case_serial_change(env):
    d = env['dupserial']
    sb = env['sb']
    mkpo(env['xb'], '-N', 'CORP', '-P', 'EXCH2', '-s', '22-28799')
    rc, pid = d.once()
    t.eq(rc, 0, 'serial change: maildatd --once, exit 0', diag=d.diag)
    want_sc = ('The postoffice CORP/EXCH2 on %s changed its serial number '
               'from [%s] to [22-28799]' % (loc(sb, 'MAILDAT$'), CONNECTOR))
    fs = frames_of(d, pid)
    t.eq(events(fs),
         [cleared('duplicate-serial', 'err', dup_serial_text(env)),
          raised('serial-changed', 'warning', want_sc)],
         'serial change: duplicate-serial cleared, serial-changed raised '
         'for that location (and nothing else)', diag=d.diag)
    if len(fs) != 2:
        return
    t.eq((fs[0].id, fs[0].pri), (env.get('dupserial_id'),
                                 FAC_DAEMON + SEV['err']),
         'serial change: the clear carries the alert id of the raise, '
         'PRI 27')
    t.eq(fs[1].pri, FAC_DAEMON + SEV['warning'],
         'serial change: serial-changed at PRI 28 (daemon.warning)')
    env['serial_changed_id'] = fs[1].id
    rows = {r['id']: r for r in d.alerts(all_=True) or []}
    a = rows.get(env.get('dupserial_id'), {})
    t.eq((a.get('state'), bool(re.match(ISO, a.get('cleared') or ''))),
         ('cleared', True), 'serial change: alerts --all: the '
         'duplicate-serial alert is cleared, with a cleared time',
         diag=repr(a))
    b = rows.get(fs[1].id, {})
    t.eq((b.get('rule'), b.get('state'), b.get('cleared'), b.get('key')),
         ('serial-changed', 'open', None,
          '%s 22-28799' % loc(sb, 'MAILDAT$')),
         'serial change: alerts --all: serial-changed open', diag=repr(b))


def case_alerts_view(env):
    d = env['dupserial']
    ids_open = [env.get('serial_changed_id')]
    ids_all = sorted([env.get('dupserial_id'), env.get('serial_changed_id')])
    # table
    res = d.ctl('alerts')
    lines = res.stdout.splitlines()
    t.eq(res.returncode, 0, 'alerts view: maildatctl alerts, exit 0',
         diag=str(res))
    t.eq(lines[0].split() if lines else None,
         [c.upper() for c in ALERT_COLUMNS],
         'alerts view: table header', diag=str(res))
    t.eq([ln.split()[:4] for ln in lines[1:]],
         [[str(ids_open[0]), 'serial-changed', 'warning', 'open']],
         'alerts view: table lists the one open alert', diag=str(res))
    res = d.ctl('alerts', '--all')
    t.eq([ln.split()[:4] for ln in res.stdout.splitlines()[1:]],
         [[str(ids_all[0]), 'duplicate-serial', 'err', 'cleared'],
          [str(ids_all[1]), 'serial-changed', 'warning', 'open']],
         'alerts view: --all lists the cleared one too', diag=str(res))
    # json
    for all_, want in ((False, ids_open), (True, ids_all)):
        res = d.ctl('alerts', '--format', 'json', *(['--all'] if all_
                                                    else []))
        try:
            rows = json.loads(res.stdout)
        except ValueError as e:
            rows = None
            t.ok(False, 'alerts view: json parses', diag='%s\n%s' % (e, res))
        if rows is not None:
            t.eq(([sorted(r) for r in rows], [r['id'] for r in rows]),
                 ([sorted(ALERT_COLUMNS)] * len(want), want),
                 'alerts view: --format json%s: columns and ids'
                 % (' --all' if all_ else ''), diag=str(res))
    # csv
    for all_, want in ((False, ids_open), (True, ids_all)):
        res = d.ctl('alerts', '--format', 'csv', *(['--all'] if all_
                                                   else []))
        try:
            rows = list(csv.DictReader(io.StringIO(res.stdout)))
        except csv.Error as e:
            rows = None
            t.ok(False, 'alerts view: csv parses', diag='%s\n%s' % (e, res))
        if rows is not None:
            t.eq(([list(r) for r in rows], [r['id'] for r in rows]),
                 ([ALERT_COLUMNS] * len(want), [str(i) for i in want]),
                 'alerts view: --format csv%s: columns and ids'
                 % (' --all' if all_ else ''), diag=str(res))
            by = {r['id']: r for r in rows}
            j = {str(r['id']): r for r in d.alerts(all_)}
            t.eq([(r['message'], r['raised'], r['cleared'])
                  for r in by.values()],
                 [(j[i]['message'], j[i]['raised'], j[i]['cleared'] or '')
                  for i in by],
                 'alerts view: csv%s and json give the same messages and '
                 'times' % (' --all' if all_ else ''))


def case_serial_changed_clears(env):
    d = env['dupserial']
    # serial-changed compares times to the second: crawl in a later one.
    time.sleep(1.1)
    rc, pid = d.once()
    fs = frames_of(d, pid)
    want_sc = ('The postoffice CORP/EXCH2 on %s changed its serial number '
               'from [%s] to [22-28799]' % (loc(env['sb'], 'MAILDAT$'),
                                            CONNECTOR))
    t.eq([(f.what, f.rule, f.id, f.text) for f in fs],
         [('cleared', 'serial-changed', env.get('serial_changed_id'),
           want_sc)],
         'serial change: serial-changed clears at the next crawl that '
         'finds the same serial', diag=d.diag)
    t.eq(d.alerts(), [], 'serial change: no open alert left')


def case_duplicate_postoffice_udp(env):
    m = env['sm']
    port = SLOG[0].udp_port
    d = Daemon(env['work'], 'duppo', target_list(m, 'DUP1', 'DUP2'),
               syslog='udp:127.0.0.1:%d' % port)
    rc, pid = d.once()
    t.eq(rc, 0, 'duplicate-postoffice: --once, exit 0', diag=d.diag)
    want = ('The postoffice CORP/HQ with serial number [12-34567] is at 2 '
            'locations (two paths to one postoffice, or a copy of it): %s, '
            '%s' % (loc(m, 'DUP1'), loc(m, 'DUP2')))
    fs = frames_of(d, pid)
    t.eq(events(fs), [raised('duplicate-postoffice', 'warning', want)],
         'duplicate-postoffice: one tree at two shares gives exactly one '
         'alert (no duplicate-serial, no duplicate-address)', diag=d.diag)
    if not fs:
        return
    f = fs[0]
    t.eq((f.kind, f.pri, f.host, f.pid),
         ('5424', FAC_DAEMON + SEV['warning'], hostname5424(), pid),
         'duplicate-postoffice: udp: an RFC 5424 frame "<28>1 TIMESTAMP '
         'HOSTNAME maildatd PID alert - MSG"', diag=repr(f.raw))
    try:
        ts = time.mktime(time.strptime(f.stamp[:19], '%Y-%m-%dT%H:%M:%S')) \
            - time.timezone
        skew = abs(ts - time.time())
    except (TypeError, ValueError):
        skew = None
    t.ok(skew is not None and skew < 60, 'duplicate-postoffice: the '
         'RFC 5424 timestamp is UTC and current (%s)' % f.stamp)


def case_duplicate_address(env):
    m = env['sm']
    d = Daemon(env['work'], 'dupaddr', target_list(m, 'ADDR1', 'ADDR2'))
    rc, pid = d.once()
    t.eq(rc, 0, 'duplicate-address: --once, exit 0', diag=d.diag)
    want = ('The postoffice CORP/SAME is at 2 locations with different '
            'serial numbers: %s [11-11111], %s [11-11112]'
            % (loc(m, 'ADDR1'), loc(m, 'ADDR2')))
    fs = frames_of(d, pid)
    t.eq(events(fs), [raised('duplicate-address', 'err', want)],
         'duplicate-address: same NET/PO, two serials: exactly one alert',
         diag=d.diag)
    t.eq([f.pri for f in fs], [FAC_DAEMON + SEV['err']],
         'duplicate-address: PRI 27')


def case_same_address(env):
    """Two smbd on 127.0.0.1, different ports, the same share name, both
    crawled by one worker: each crawl must read its own server."""
    sa, sc = env['sa'], env['sc']
    d = Daemon(env['work'], 'sameaddr',
               target_list(sa, 'MAILDAT$') + target_list(sc, 'MAILDAT$'),
               workers=1)
    rc, pid = d.once()
    t.eq(rc, 0, 'two servers on one address: --once, exit 0', diag=d.diag)
    got = sorted(d.query("SELECT l.location, c.network || '/' || c.postoffice "
                       "FROM crawl c JOIN location l ON l.id = "
                       "c.location_id"))
    t.eq(got, sorted([(loc(sa, 'MAILDAT$'), 'CORP/EXCH1'),
                      (loc(sc, 'MAILDAT$'), 'CORP/FAR')]),
         'two servers on one address (127.0.0.1, two ports, share MAILDAT$ '
         'on both), one worker: each crawl reads the postoffice of its own '
         'port', diag=d.diag)
    t.eq(events(frames_of(d, pid)), [],
         'two servers on one address: no alert (two distinct postoffices)')


def case_unreachable(env):
    sc = env['sc']
    d = Daemon(env['work'], 'unreach', target_list(sc, 'MAILDAT$'),
               extra='unreachable_after = 2\n')
    where = loc(sc, 'MAILDAT$')
    rc, pid = d.once()
    t.eq((rc, events(frames_of(d, pid))), (0, []),
         'unreachable: round 0 (server up): exit 0, no alert', diag=d.diag)
    sc.stop()
    rc, pid = d.once()
    t.eq((rc, events(frames_of(d, pid))), (1, []),
         'unreachable: round 1 with smbd stopped: exit 1, no alert yet '
         '(unreachable_after = 2)', diag=d.diag)
    rc, pid = d.once()
    fs = frames_of(d, pid)
    seen = (d.query('SELECT last_seen FROM postoffices WHERE location = ?',
                    (where,)) or [('?',)])[0][0]
    want2 = ('The postoffice CORP/FAR on %s has not been read since %s '
             '(unreachable: 127.0.0.1 port %d: Connection refused)'
             % (where, seen, sc.port))
    t.eq((rc, events(fs)), (1, [raised('unreachable', 'warning', want2)]),
         'unreachable: round 2: raised, naming the location and the error',
         diag=d.diag)
    aid = fs[0].id if fs else None
    rc, pid = d.once()
    t.eq((rc, events(frames_of(d, pid))), (1, []),
         'unreachable: round 3 still down: not sent again', diag=d.diag)
    rows = d.alerts() or [{}]
    want3 = want2
    t.eq([(r.get('id'), r.get('message')) for r in rows], [(aid, want3)],
         'unreachable: the open alert keeps its id and its message (a '
         'failure more is not news)')
    sc.start()
    t.eq(sc.port, env['sc_port'], 'unreachable: smbd restarted on the '
         'same port')
    rc, pid = d.once()
    fs = frames_of(d, pid)
    t.eq((rc, [(f.what, f.rule, f.id) for f in fs]),
         (0, [('cleared', 'unreachable', aid)]),
         'unreachable: smbd back: cleared, same alert id', diag=d.diag)
    t.eq([f.text for f in fs], [want3],
         'unreachable: the clear carries the last message')
    t.eq(d.alerts(), [], 'unreachable: no open alert left')


def case_malformed(env):
    m = env['sm']
    d = Daemon(env['work'], 'malformed', target_list(m, 'DMG1', 'DMG2'))
    rc, pid = d.once()
    t.eq(rc, 1, 'malformed: --once, exit 1 (a crawl was not ok)',
         diag=d.diag)
    want = sorted([
        raised('malformed', 'warning', 'The postoffice files at %s are '
               'damaged: GLB\\MASTER.GLB: MASTER.GLB is 100 bytes, not 176'
               % loc(m, 'DMG1')),
        raised('malformed', 'warning', 'The postoffice files at %s '
               '(DMG/CSUM) are damaged: GLB\\MASTER.GLB: serial checksum '
               'mismatch (stored 0x0323, computed 0x0322)' % loc(m, 'DMG2')),
    ])
    t.eq(sorted(events(frames_of(d, pid))), want,
         'malformed: --damage master-short and --damage checksum each give '
         'one malformed alert, and nothing else', diag=d.diag)


USER_RULES = '''
[rule connector-serial]
severity = notice
query = SELECT 'connector ' || location AS key,
    'Exchange connector postoffice ' || address || ' at ' || location
    AS message
    FROM postoffices WHERE kind = 'connector'
[rule duplicate-postoffice]
enabled = no
[rule duplicate-serial]
severity = crit
'''


def case_user_rule(env):
    m = env['sm']
    d = Daemon(env['work'], 'userrule',
               target_list(m, 'CONN1', 'CONN2', 'DUP1', 'DUP2'),
               rules=USER_RULES)
    rc, pid = d.once()
    t.eq(rc, 0, 'user rule: --once, exit 0', diag=d.diag)
    fs = frames_of(d, pid)
    c1, c2 = loc(m, 'CONN1'), loc(m, 'CONN2')
    dup = ('Postoffice serial number [%s] is on 2 postoffices joined over '
           'MS Mail (CORP/CX1 > CORP/CX2): the PC MTA stops with Event 4188: '
           'the postoffice CORP/CX1 on %s, the postoffice CORP/CX2 on %s'
           % (CONNECTOR, c1, c2))
    want = sorted([
        (FAC_DAEMON + SEV['crit'], raised('duplicate-serial', 'crit', dup)),
        (FAC_DAEMON + SEV['notice'], raised(
            'connector-serial', 'notice',
            'Exchange connector postoffice CORP/CX1 at %s' % c1)),
        (FAC_DAEMON + SEV['notice'], raised(
            'connector-serial', 'notice',
            'Exchange connector postoffice CORP/CX2 at %s' % c2)),
    ])
    got = sorted((f.pri, f.event()) for f in fs)
    t.eq(got, want, 'user rule: connector-serial fires at notice (PRI 29) '
         'for both connector postoffices; duplicate-serial re-graded to '
         'crit (PRI 26); duplicate-postoffice (enabled = no) does not fire',
         diag=d.diag)
    t.eq(sorted((r['rule'], r['severity']) for r in d.alerts() or []),
         [('connector-serial', 'notice'), ('connector-serial', 'notice'),
          ('duplicate-serial', 'crit')],
         'user rule: alerts view has the configured severities')


CTL_RULE = '''
[rule ctlchars]
query = SELECT 'ctl ' || location AS key,
    'NAME<' || address || char(10) || 'injected: x' || char(13) ||
    char(27) || '[1m' || char(9) || char(127) || char(1) || '>END'
    AS message FROM postoffices
'''


def case_control_chars(env):
    m = env['sm']
    d = Daemon(env['work'], 'ctlchars', target_list(m, 'ADDR1'),
               rules=CTL_RULE)
    rc, pid = d.once()
    t.eq(rc, 0, 'control characters: --once, exit 0', diag=d.diag)
    fs = frames_of(d, pid)
    t.eq(len(fs), 1, 'control characters: one datagram (not split at the '
         'newline)', diag=d.diag)
    if not fs:
        return
    f = fs[0]
    t.eq(f.msg, 'alert %s raised: ctlchars [warning]: NAME<CORP/SAME'
         '\\x0ainjected: x\\x0d\\x1b[1m\\x09\\x7f\\x01>END' % f.id,
         'control characters: newline, CR, ESC, TAB, DEL and 0x01 are '
         'written as \\xNN', diag=repr(f.raw))
    bad = [c for c in f.raw if ord(c) < 0x20 or ord(c) == 0x7f]
    t.eq(bad, [], 'control characters: no raw control character in the '
         'frame on the wire')
    rows = d.alerts() or [{}]
    t.ok('\n' in (rows[0].get('message') or ''),
         'control characters: the database keeps the message as the rule '
         'returned it (escaping is the sink\'s job)', diag=repr(rows))


def case_renotify(env):
    WINDOW = 10.0           # seconds watched after the raise
    m = env['sm']
    d = Daemon(env['work'], 'renotify', target_list(m, 'ADDR1', 'ADDR2'),
               extra='interval = 1s\nrenotify = 2s\n')
    want = ('The postoffice CORP/SAME is at 2 locations with different '
            'serial numbers: %s [11-11111], %s [11-11112]'
            % (loc(m, 'ADDR1'), loc(m, 'ADDR2')))
    seen = {}               # frame index -> monotonic time first seen
    try:
        pid = d.start().pid
        first = None
        c0 = None
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            now = time.monotonic()
            for i, msg in enumerate(SLOG[0].messages()):
                if i not in seen:
                    seen[i] = now
            if first is None and frames_of(d, pid):
                first = now
                c0 = d.ncrawls()
            if first is not None and now - first >= WINDOW:
                break
            time.sleep(0.02)
        c1 = d.ncrawls()
        rc = d.stop()
    finally:
        d.stop()
    settle()
    fs = frames_of(d, pid)
    t.ok(first is not None, 'renotify: the alert is raised', diag=d.diag)
    t.eq(rc, 0, 'renotify: SIGTERM, exit 0')
    if first is None:
        return
    kinds = [f.what for f in fs]
    t.eq((kinds[:1], set(kinds[1:]) <= {'repeated'}),
         (['raised'], True), 'renotify: raised once, then only repeated',
         diag=d.diag)
    aid = fs[0].id
    t.eq([(f.id, f.rule, f.sev, f.text, f.pri) for f in fs[1:]],
         [(aid, 'duplicate-address', 'err', want,
           FAC_DAEMON + SEV['err'])] * (len(fs) - 1),
         'renotify: each repeat carries the id, rule, severity and message '
         'of the raise', diag=d.diag)
    times = [seen.get(f.seq) for f in fs if f.seq in seen]
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
    rounds = (c1 - c0) / 2.0
    t.diag('renotify: %d notifications, gaps %s s, about %.0f rounds '
           'in %g s' % (len(fs), gaps, rounds, WINDOW))
    t.ok(len(fs) - 1 >= 3, 'renotify: repeated at least 3 times in %g s '
         '(%d)' % (WINDOW, len(fs) - 1))
    t.ok(gaps and all(1.8 <= g <= 3.6 for g in gaps),
         'renotify: about every 2 s, never sooner (gaps %s s)' % gaps)
    t.ok(rounds >= 6 and len(fs) - 1 <= rounds / 2 + 1,
         'renotify: not every round (%d repeats, ~%.0f rounds)'
         % (len(fs) - 1, rounds))


def case_exactly_once(env):
    """Every raise and clear recorded in any database was sent exactly
    once; no frame was sent for anything else; no frame was malformed."""
    fs = frames()
    unparsed = [f.raw for f in fs if f.daemon is None or f.what is None]
    t.eq(unparsed, [], 'exactly once: every frame is an alert of one of '
         'our daemons')
    sent = collections.Counter(
        (f.daemon.name, f.id, f.what) for f in fs
        if f.daemon is not None and f.what in ('raised', 'cleared'))
    dupes = dict((k, n) for k, n in sent.items() if n != 1)
    t.eq(dupes, {}, 'exactly once: no raise or clear was sent twice '
         '(%d frames, %d daemons)' % (len(fs), len(harness.daemons())))
    want = collections.Counter()
    for d in harness.daemons():
        if not os.path.exists(d.db):
            continue
        for aid, state in d.query('SELECT id, state FROM alert'):
            want[(d.name, aid, 'raised')] += 1
            if state == 'cleared':
                want[(d.name, aid, 'cleared')] += 1
    t.eq(sorted(set(sent) ^ set(want)), [],
         'exactly once: the frames match the alert tables one to one '
         '(%d raises and clears)' % len(want))
    raw = [f.raw for f in fs if any(ord(c) < 0x20 or ord(c) == 0x7f
                                    for c in f.raw)]
    t.eq(raw, [], 'exactly once: no frame holds a raw control character')


# ---------------------------------------------------------------------------

def build_trees(work):
    srv = os.path.join(work, 'srv')
    os.mkdir(srv)
    os.chmod(srv, 0o755)
    p = dict((n, os.path.join(srv, n)) for n in
             ('xa', 'xb', 'far', 'hq', 'addr1', 'addr2', 'dmg1', 'dmg2',
              'cx1', 'cx2'))
    mkpo(p['xa'], '-N', 'CORP', '-P', 'EXCH1', '-s', CONNECTOR, '--route',
         'CORP/HUB')
    mkpo(p['xb'], '-N', 'CORP', '-P', 'EXCH2', '-s', CONNECTOR, '--route',
         'CORP/HUB')
    mkpo(p['far'], '-N', 'CORP', '-P', 'FAR', '-s', '33-33333')
    mkpo(p['hq'], '-N', 'CORP', '-P', 'HQ', '-s', '12-34567')
    mkpo(p['addr1'], '-N', 'CORP', '-P', 'SAME', '-s', '11-11111')
    mkpo(p['addr2'], '-N', 'CORP', '-P', 'SAME', '-s', '11-11112')
    mkpo(p['dmg1'], '-N', 'DMG', '-P', 'SHORT', '--damage', 'master-short')
    mkpo(p['dmg2'], '-N', 'DMG', '-P', 'CSUM', '--damage', 'checksum')
    # CX1 routes to CX2: joined.
    mkpo(p['cx1'], '-N', 'CORP', '-P', 'CX1', '-s', CONNECTOR, '--route',
         'CORP/CX2')
    mkpo(p['cx2'], '-N', 'CORP', '-P', 'CX2', '-s', CONNECTOR)
    return p


def main():
    with harness.suite(t, 'needs root (smbd, privilege drop to '
                       'nobody)') as work:
        p = build_trees(work)
        sc_port = harness.free_port()
        with harness.SyslogReceiver(work, udp=True) as slog, \
                harness.Samba(work, shares={'MAILDAT$': p['xa']}) as sa, \
                harness.Samba(work, shares={'MAILDAT$': p['xb']},
                              global_options=SECOND_ADDRESS) as sb, \
                harness.Samba(work, shares={'MAILDAT$': p['far']},
                              port=sc_port) as sc, \
                harness.Samba(work, shares={
                    'DUP1': p['hq'], 'DUP2': p['hq'],
                    'ADDR1': p['addr1'], 'ADDR2': p['addr2'],
                    'DMG1': p['dmg1'], 'DMG2': p['dmg2'],
                    'CONN1': p['cx1'], 'CONN2': p['cx2']}) as sm:
            SLOG[:] = [slog]
            # The second connector server is another host: 127.0.0.2.
            sb.alias = '127.0.0.2'
            env = {'work': work, 'sa': sa, 'sb': sb, 'sc': sc, 'sm': sm,
                   'sc_port': sc_port, 'xb': p['xb']}
            try:
                t.run(case_duplicate_serial, 'duplicate-serial', env)
                t.run(case_serial_change, 'serial change', env)
                t.run(case_alerts_view, 'alerts view', env)
                t.run(case_serial_changed_clears, 'serial-changed clears',
                      env)
                t.run(case_duplicate_postoffice_udp,
                      'duplicate-postoffice (udp)', env)
                t.run(case_duplicate_address, 'duplicate-address', env)
                t.run(case_same_address, 'two servers on one address', env)
                t.run(case_unreachable, 'unreachable', env)
                t.run(case_malformed, 'malformed', env)
                t.run(case_user_rule, 'user rule', env)
                t.run(case_control_chars, 'control characters', env)
                t.run(case_renotify, 'renotify', env)
                stop_all_daemons()
                settle()
                t.run(case_exactly_once, 'exactly once', env)
            finally:
                stop_all_daemons()


if __name__ == '__main__':
    main()
