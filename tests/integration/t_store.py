#!/usr/bin/env python3
"""Integration test of the store: the SQLite database maildatctl writes.

Postoffice trees written by mkpostoffice are served by a private smbd and
crawled with the real `maildatctl scan --save`; the database is then read
back with the sqlite3 CLI and with `maildatctl postoffices|routes|crawls|
history|query`.  Covered:

  - each view (postoffices, locations, crawls, routes, postoffice_history,
    alerts) after scripted crawls: identity, raw serial, kinds, ISO 8601
    times, history rows when a tree is rewritten, a failed crawl (smbd
    stopped) keeping the identity and routes;
  - the listings and `query` in table, CSV and JSON, compared byte for byte
    with what the formats specify;
  - a sqlite3 reader holding a read transaction while scans write (WAL);
  - maildatctl SIGKILLed at random moments while it saves, and a sqlite3
    writer SIGKILLed before COMMIT: integrity, no lost commit, no partial
    save;
  - files that are not our database, a newer schema, a version-1 database
    upgraded in place;
  - `query` refusing anything but reading.

Prints TAP (harness.Tap).  Needs root (smbd) and the sqlite3 CLI.
MAILDAT_TEST_SEED fixes the random kill delays.
"""

import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402

t = harness.Tap()

SERIAL_KEY = (0x56, 0xB1, 0xAF, 0xB1, 0x5F, 0x2A, 0xAE, 0xA8)
ISO_RE = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
WGPO_FLAGS = 0x14955E5B
T0 = 1795487967 * 1000000           # 2026-11-24T02:39:27Z
DAY = 86400 * 1000000

try:
    CTL = harness.tool('maildatctl')
    MKPO = harness.tool('mkpostoffice')
except FileNotFoundError as e:
    t.skip_all(str(e))
SQLITE3 = shutil.which('sqlite3')
if SQLITE3 is None:
    t.skip_all('the sqlite3 CLI is not installed (apt-get install sqlite3)')


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def ctl(*args, **kw):
    return harness.run([CTL] + [str(a) for a in args], **kw)


def mkpo(path, *args):
    """A fresh postoffice at PATH (mkpostoffice ARGS PATH), readable by
    smbd's guest account."""
    if os.path.exists(path):
        shutil.rmtree(path)
    harness.mkpo(*(args + (path,)))
    harness.make_readable(path)


def sql(db, query, check=True):
    """Run QUERY with the sqlite3 CLI; return the rows as dicts."""
    res = harness.run([SQLITE3, '-json', db, query])
    if check and (res.returncode != 0 or res.stderr.strip()):
        raise AssertionError('sqlite3 %s %r failed: %s' % (db, query, res))
    out = res.stdout.strip()
    return json.loads(out) if out else []


def sql1(db, query):
    """The single value of a one-row, one-column query."""
    rows = sql(db, query)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise AssertionError('%r gave %r, not one value' % (query, rows))
    return list(rows[0].values())[0]


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def db_state(db):
    """Bytes of the database file and of its -wal, if any."""
    state = [sha256(db)]
    for ext in ('-wal', '-journal'):
        p = db + ext
        state.append(sha256(p) if os.path.exists(p) and os.path.getsize(p)
                     else None)
    return state


def dump(db):
    res = harness.run([SQLITE3, db, '.dump'])
    if res.returncode != 0:
        raise AssertionError('sqlite3 .dump: %s' % res)
    return res.stdout


def iso(us):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(us // 1000000))


def serial_raw_hex(text):
    """The 10 raw bytes of a serial written 22-28798, as MS Mail stores it:
    the digits XORed with the key, then NUL, zero padded."""
    digits = text.replace('-', '')
    raw = bytes(ord(c) ^ SERIAL_KEY[i % 8] for i, c in enumerate(digits))
    return (raw + bytes(10 - len(raw))).hex()


def now_us():
    return int(time.time() * 1000000)


# The three output formats, as lib/fmt.c specifies them.

def _cell(v):
    return '' if v is None else str(v)


def render_table(cols, rows):
    head = [c.upper() for c in cols]
    cells = [[_cell(v) for v in r] for r in rows]
    width = [max([len(head[j])] + [len(r[j]) for r in cells])
             for j in range(len(cols))]
    lines = []
    for r in [head] + cells:
        # Cells up to the last non-empty one, each but that padded to its
        # column's width + 2: no trailing blanks.
        last = max([j for j, s in enumerate(r) if s] or [0])
        line = ''.join(s.ljust(width[j] + 2) for j, s in enumerate(r[:last]))
        lines.append(line + r[last])
    return ''.join(line + '\n' for line in lines)


def _csv_field(s):
    if re.search(r'[,"]', s) or s.startswith(' '):
        return '"' + s.replace('"', '""') + '"'
    return s


def render_csv(cols, rows):
    lines = [','.join(_csv_field(c) for c in cols)]
    for r in rows:
        lines.append(','.join(_csv_field(_cell(v)) for v in r))
    return ''.join(line + '\r\n' for line in lines)


def _json_value(v):
    if v is None:
        return 'null'
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return json.dumps(v, ensure_ascii=False)


def render_json(cols, rows):
    if not rows:
        return '[]\n'
    objs = [' {' + ', '.join('%s: %s' % (json.dumps(c), _json_value(v))
                             for c, v in zip(cols, r)) + '}' for r in rows]
    return '[\n' + ',\n'.join(objs) + '\n]\n'


RENDER = {'table': render_table, 'csv': render_csv, 'json': render_json}


class SqliteShell(object):
    """An interactive sqlite3 CLI on a pipe: cmd() sends SQL and returns
    the lines it printed (errors included) up to a marker."""

    MARK = '__maildat_test_mark__'

    def __init__(self, db):
        kw = {}
        preexec = getattr(harness, '_make_preexec', None)
        if preexec is not None:
            kw['preexec_fn'] = preexec(os.getpid())
        self.proc = subprocess.Popen(
            [SQLITE3, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, **kw)
        self.buf = b''

    def cmd(self, text, timeout=15):
        self.proc.stdin.write(('%s\n.print %s\n' % (text, self.MARK))
                              .encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        mark = ('%s\n' % self.MARK).encode()
        while mark not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('sqlite3 did not answer %r; got %r'
                                     % (text, self.buf))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError('sqlite3 exited: %r' % self.buf)
                self.buf += chunk
        out, self.buf = self.buf.split(mark, 1)
        return out.decode('utf-8', 'replace').splitlines()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


# ---------------------------------------------------------------------------
# the estate
# ---------------------------------------------------------------------------

WORK = harness.make_workdir()
SHARE = os.path.join(WORK, 'maildat')
KSHARE = os.path.join(WORK, 'kill')
DB = os.path.join(WORK, 'maildat.db')
for d in (SHARE, KSHARE):
    os.mkdir(d, 0o755)

PO1_ROUTES = [          # --route/--gateway argument, to_address, type, code
    ('--route', 'CORP/BRANCH1', 'CORP/BRANCH1', 'msmail', 0),
    ('--route', 'SMTPGW/GW:12', 'SMTPGW/GW', 'smtp', 12),
    ('--gateway', 'X400NET:8', 'X400NET', 'x400', 8),
    ('--route', 'EXCH/CONN:16', 'EXCH/CONN', 'connector', 16),
    ('--route', 'MHSNET/M1:14', 'MHSNET/M1', 'mhs', 14),
    ('--gateway', 'FAXGW:120', 'FAXGW', 'gateway-120', 120),
    ('--route', 'ODD/ONE:5', 'ODD/ONE', 'type-5', 5),
]

# What each postoffice folder of the share holds now (kept up to date as
# the tests rewrite trees).
ESTATE = {
    'PO1': dict(network='CORP', postoffice='HQ', serial='22-28798',
                kind='connector', flags=0),
    'PO2': dict(network='WG', postoffice='OFFICE', serial='0799-99992',
                kind='wgpo', flags=WGPO_FLAGS),
    'PO3': dict(network='ACME', postoffice='SALES', serial='12-34567',
                kind='msmail', flags=0),
    'PO4': dict(network='EXCH', postoffice='SITE2', serial='22-28798',
                kind='connector', flags=0),
}
for e in ESTATE.values():
    e['serial_raw'] = serial_raw_hex(e['serial'])

PO1_ARGS = []
for opt, arg, _, _, _ in PO1_ROUTES:
    PO1_ARGS += [opt, arg]
mkpo(os.path.join(SHARE, 'PO1'), '-N', 'CORP', '-P', 'HQ', '-s', '22-28798',
     *PO1_ARGS)
mkpo(os.path.join(SHARE, 'PO2'), '--wgpo', '-N', 'WG', '-P', 'OFFICE')
mkpo(os.path.join(SHARE, 'PO3'), '-N', 'ACME', '-P', 'SALES', '-s',
     '12-34567', '--route', 'ACME/BRANCH2')
mkpo(os.path.join(SHARE, 'PO4'), '-N', 'EXCH', '-P', 'SITE2', '-s',
     '22-28798', '--route', 'CORP/HQ:16')
ROUTES = {
    'PO1': [(to, typ, code) for _, _, to, typ, code in PO1_ROUTES],
    'PO2': [],
    'PO3': [('ACME/BRANCH2', 'msmail', 0)],
    'PO4': [('CORP/HQ', 'connector', 16)],
}
os.mkdir(os.path.join(SHARE, 'EMPTY'), 0o755)

KILL_N = 20
for i in range(KILL_N):
    mkpo(os.path.join(KSHARE, 'K%02d' % i), '-N', 'KNET', '-P', 'K%02d' % i,
         '-s', '%02d-%05d' % (i + 40, i * 7), '--route', 'KNET/HUB',
         '--route', 'SMTP/GW:12', '--gateway', 'FAX:120')

S = {}          # facts the cases share: the Samba, locations, times


def loc(name):
    """The location string of a folder of the MAILDAT$ share."""
    if name in ('', None):
        return '\\\\127.0.0.1@%d\\MAILDAT$' % S['port']
    return '\\\\127.0.0.1@%d\\MAILDAT$\\%s' % (S['port'], name)


def location_rows(db):
    """location table rows by location name (raw *_us columns)."""
    rows = sql(db, 'SELECT location, first_seen_us, last_seen_us, '
               'last_crawled_us, first_crawled_us, last_ok_us, failures, '
               'last_crawl_id FROM location')
    return {r['location']: r for r in rows}


def crawl_rows(db):
    return sql(db, 'SELECT c.id, l.location, c.started_us, c.finished_us, '
               'c.outcome, c.error, c.network, c.postoffice, '
               'lower(hex(c.serial_raw)) AS serial_raw, c.serial, c.kind, '
               'c.checksum_ok, c.nroutes FROM crawl c '
               'JOIN location l ON l.id = c.location_id ORDER BY c.id')


def scan_save(db, *urls, want_rc=0, fmt=None):
    before = now_us()
    args = ['--db', db] + (['--format', fmt] if fmt else []) + \
        ['scan', '--save'] + list(urls)
    res = ctl(*args)
    after = now_us()
    t.eq(res.returncode, want_rc, 'scan --save %s into %s exits %d'
         % (' '.join(re.sub(r'^smb://[^/]*/', '', u) for u in urls),
            os.path.basename(db), want_rc), diag=str(res))
    return before, after, res


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

def case_views_first_scan():
    smb = S['smb']
    t0, t1, res = scan_save(DB, smb.url('MAILDAT$'))
    t.eq(res.stderr, '', 'first scan prints nothing on stderr')
    S['scan1'] = (t0, t1)
    t.eq(sql1(DB, 'PRAGMA user_version'),
         S['nmigrations'], 'a new database is at the latest schema version')
    t.eq(sql1(DB, 'PRAGMA application_id'), 0x4D44544D,
         'application_id is MDTM')
    t.eq(sql1(DB, 'PRAGMA journal_mode'), 'wal', 'the database is in WAL mode')

    raw = location_rows(DB)
    rows = sql(DB, 'SELECT * FROM postoffices ORDER BY location')
    want = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        r = raw.get(loc(name), {})
        want.append({
            'location': loc(name), 'host': '127.0.0.1', 'port': S['port'],
            'share': 'MAILDAT$', 'path': name, 'network': e['network'],
            'postoffice': e['postoffice'],
            'address': '%s/%s' % (e['network'], e['postoffice']),
            'serial': e['serial'], 'serial_raw': e['serial_raw'],
            'kind': e['kind'],
            'first_seen': iso(r.get('first_seen_us', 0)),
            'last_seen': iso(r.get('last_seen_us', 0)),
            'last_outcome': 'ok', 'last_error': None,
            'last_ok': iso(r.get('last_seen_us', 0)),
            'last_crawled': iso(r.get('last_seen_us', 0)),
            'failures': 0, 'checksum_ok': 1, 'flags': e['flags'],
            'product_version': 2,
            'address_key': ('%s/%s' % (e['network'], e['postoffice'])
                            ).upper()})
    t.eq(rows, want, 'postoffices: every column of the four postoffices')
    for name in sorted(ESTATE):
        r = raw[loc(name)]
        t.ok(t0 <= r['first_seen_us'] <= t1 and
             r['first_seen_us'] == r['last_seen_us'] ==
             r['last_crawled_us'] == r['first_crawled_us'] ==
             r['last_ok_us'],
             '%s: first_seen = last_seen = the crawl time' % name,
             diag='scan %d..%d, row %r' % (t0, t1, r))
    t.ok(all(re.match(ISO_RE, v) for r in rows
             for v in (r['first_seen'], r['last_seen'])),
         'times are YYYY-MM-DDTHH:MM:SSZ')
    S['first_seen'] = {n: raw[loc(n)]['first_seen_us'] for n in ESTATE}

    # routes
    rows = sql(DB, 'SELECT * FROM routes')
    want = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        for to, typ, code in ROUTES[name]:
            net, _, po = to.partition('/')
            want.append({'location': loc(name),
                         'address': '%s/%s' % (e['network'], e['postoffice']),
                         'to_address': to, 'type': typ, 'to_network': net,
                         'to_postoffice': po, 'type_code': code})
    t.eq(rows, want, 'routes: every route, type names, in NETWORK.GLB order')

    # a location that holds no postoffice, a share that does not exist
    t2, t3, res = scan_save(DB, smb.url('MAILDAT$', 'EMPTY'),
                            smb.url('NOSUCH'), want_rc=1)
    crawls = sql(DB, 'SELECT * FROM crawls ORDER BY id')
    t.eq(len(crawls), 6, 'crawls: one row per crawl attempt (4 + 2)')
    first = sorted(crawls[:4], key=lambda r: r['location'])
    want = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        want.append({'location': loc(name), 'outcome': 'ok', 'error': None,
                     'network': e['network'], 'postoffice': e['postoffice'],
                     'address': '%s/%s' % (e['network'], e['postoffice']),
                     'serial': e['serial'], 'serial_raw': e['serial_raw'],
                     'checksum_ok': 1})
    t.eq([{k: v for k, v in r.items()
           if k not in ('id', 'started', 'finished')} for r in first],
         want, 'crawls: the four ok crawls with the identity each read')
    t.eq([r['id'] for r in crawls], [1, 2, 3, 4, 5, 6], 'crawls: ids 1..6')
    want = [
        {'id': 5, 'location': loc('EMPTY'), 'outcome': 'not-postoffice',
         'error': 'no GLB\\MASTER.GLB here or one folder down',
         'network': None, 'postoffice': None, 'address': None,
         'serial': None, 'serial_raw': None, 'checksum_ok': None},
        {'id': 6, 'location': '\\\\127.0.0.1@%d\\NOSUCH' % S['port'],
         'outcome': 'not-postoffice',
         'error': 'no share named NOSUCH on 127.0.0.1',
         'network': None, 'postoffice': None, 'address': None,
         'serial': None, 'serial_raw': None, 'checksum_ok': None},
    ]
    t.eq([{k: v for k, v in r.items()
           if k not in ('started', 'finished', 'serial_raw')}
          for r in crawls[4:]],
         [{k: v for k, v in r.items() if k != 'serial_raw'} for r in want],
         'crawls: failed attempts have outcome, error and no identity')
    # hex(NULL) is '' in SQLite; migration 4 makes the view say NULL.
    t.ok([r['serial_raw'] for r in crawls[4:]] == [None, None],
         'crawls: serial_raw is NULL when the crawl read no identity')
    raw = {r['id']: r for r in crawl_rows(DB)}
    t.ok(all(r['started'] == iso(raw[r['id']]['started_us']) and
             r['finished'] == iso(raw[r['id']]['finished_us']) and
             raw[r['id']]['started_us'] <= raw[r['id']]['finished_us']
             for r in crawls),
         'crawls: started/finished are the stored times in ISO 8601',
         diag=lambda: repr((crawls, raw)))
    t.ok(t2 <= raw[5]['finished_us'] <= t3, 'crawls: finished is the '
         'time of the crawl')
    t.eq([r['nroutes'] for r in sorted(raw.values(), key=lambda r: r['id'])
          if r['id'] <= 4 and r['location'] == loc('PO1')],
         [len(PO1_ROUTES)], 'crawl.nroutes counts the routes read')
    t.eq(sql(DB, "SELECT count(*) AS n FROM postoffices WHERE location IN "
             "('%s', '\\\\127.0.0.1@%d\\NOSUCH')" % (loc('EMPTY'), S['port'])),
         [{'n': 0}], 'locations without a postoffice are not in postoffices')
    # locations: every location crawled, identified or not.
    raw = location_rows(DB)
    want = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        want.append({
            'location': loc(name), 'host': '127.0.0.1', 'port': S['port'],
            'share': 'MAILDAT$', 'path': name, 'identified': 1,
            'address': '%s/%s' % (e['network'], e['postoffice']),
            'serial': e['serial'], 'kind': e['kind'], 'last_outcome': 'ok',
            'last_error': None,
            'last_crawled': iso(raw[loc(name)]['last_crawled_us']),
            'failures': 0, 'checksum_ok': 1, 'state': 'active',
            'retired': None,
            'first_crawled': iso(raw[loc(name)]['first_crawled_us']),
            'silent_crawls': 0})
    for path, share, error in (
            ('EMPTY', 'MAILDAT$', 'no GLB\\MASTER.GLB here or one folder '
             'down'),
            ('', 'NOSUCH', 'no share named NOSUCH on 127.0.0.1')):
        where = '\\\\127.0.0.1@%d\\%s%s' % (
            S['port'], share, '\\' + path if path else '')
        want.append({
            'location': where, 'host': '127.0.0.1', 'port': S['port'],
            'share': share, 'path': path, 'identified': 0, 'address': None,
            'serial': None, 'kind': None, 'last_outcome': 'not-postoffice',
            'last_error': error,
            'last_crawled': iso(raw[where]['last_crawled_us']),
            'failures': 1, 'checksum_ok': None, 'state': 'active',
            'retired': None,
            'first_crawled': iso(raw[where]['first_crawled_us']),
            'silent_crawls': 0})
    want.sort(key=lambda r: r['location'])
    t.eq(sql(DB, 'SELECT * FROM locations ORDER BY location'), want,
         'locations: every location crawled, identified or not')
    t.eq(sql(DB, 'SELECT location, changed, field, old, new FROM postoffice_history'), [],
         'postoffice_history: a first sighting adds no history')
    t.eq(sql(DB, 'SELECT * FROM alerts'), [], 'alerts: empty')


def case_history():
    smb = S['smb']
    # Same identity again: no history.
    time.sleep(1.1)                 # the views show whole seconds
    scan_save(DB, smb.url('MAILDAT$', 'PO3'))
    t.eq(sql(DB, 'SELECT location, changed, field, old, new FROM postoffice_history'), [],
         'a rescan with the same identity adds no history')
    time.sleep(1.1)
    mkpo(os.path.join(SHARE, 'PO3'), '-N', 'ACME', '-P', 'SALES2', '-s',
         '45-67890', '--route', 'ACME/BRANCH3:12')
    t0, t1, _ = scan_save(DB, smb.url('MAILDAT$', 'PO3'))
    raw = location_rows(DB)[loc('PO3')]
    changed = iso(raw['last_seen_us'])
    t.ok(t0 <= raw['last_seen_us'] <= t1, 'last_seen is the new crawl time')
    want = [
        {'location': loc('PO3'), 'changed': changed, 'field': 'postoffice',
         'old': 'SALES', 'new': 'SALES2'},
        {'location': loc('PO3'), 'changed': changed, 'field': 'serial',
         'old': '12-34567', 'new': '45-67890'},
    ]
    t.eq(sql(DB, 'SELECT location, changed, field, old, new FROM postoffice_history'), want,
         'postoffice_history: new postoffice name and serial, old and new')
    ESTATE['PO3'].update(postoffice='SALES2', serial='45-67890',
                         serial_raw=serial_raw_hex('45-67890'))
    ROUTES['PO3'] = [('ACME/BRANCH3', 'smtp', 12)]
    po = sql(DB, "SELECT * FROM postoffices WHERE path = 'PO3'")[0]
    t.eq((po['address'], po['serial'], po['serial_raw']),
         ('ACME/SALES2', '45-67890', serial_raw_hex('45-67890')),
         'postoffices shows the new identity')
    t.eq(po['first_seen'], iso(S['first_seen']['PO3']),
         'first_seen is unchanged')
    t.eq(raw['first_seen_us'], S['first_seen']['PO3'],
         'first_seen_us is unchanged')
    t.ok(po['last_seen'] > po['first_seen'],
         'last_seen advanced past first_seen',
         diag='%s, %s' % (po['first_seen'], po['last_seen']))
    t.eq(sql(DB, "SELECT to_address, type FROM routes WHERE location = '%s'"
             % loc('PO3')), [{'to_address': 'ACME/BRANCH3', 'type': 'smtp'}],
         'the routes are those of the rewritten tree')

    # The same display form, other raw bytes (after the NUL): the history
    # shows the bytes.
    time.sleep(1.1)
    old_hex = serial_raw_hex('45-67890')
    new_hex = old_hex[:16] + 'aa55'
    mkpo(os.path.join(SHARE, 'PO3'), '-N', 'ACME', '-P', 'SALES2',
         '--serial-raw', new_hex, '--route', 'ACME/BRANCH3:12')
    scan_save(DB, smb.url('MAILDAT$', 'PO3'))
    raw = location_rows(DB)[loc('PO3')]
    hist = sql(DB, 'SELECT location, changed, field, old, new FROM postoffice_history')
    t.eq(hist[2:], [{'location': loc('PO3'),
                     'changed': iso(raw['last_seen_us']), 'field': 'serial',
                     'old': old_hex, 'new': new_hex}],
         'a serial that differs only in raw bytes is recorded in hex')
    t.eq(hist[:2], want, 'older history rows are kept')
    po = sql(DB, "SELECT serial, serial_raw, checksum_ok FROM postoffices "
             "WHERE path = 'PO3'")
    t.eq(po, [{'serial': '45-67890', 'serial_raw': new_hex,
               'checksum_ok': 1}], 'postoffices compares by the raw bytes')
    ESTATE['PO3']['serial_raw'] = new_hex
    t.eq(sql1(DB, "SELECT count(*) FROM identity_change WHERE crawl_id IS "
              "NULL OR crawl_id NOT IN (SELECT id FROM crawl)"), 0,
         'every history row points at the crawl that saw the change')


def case_failed_crawl():
    smb = S['smb']
    before = location_rows(DB)[loc('PO1')]
    routes_before = sql(DB, "SELECT * FROM routes WHERE location = '%s'"
                        % loc('PO1'))
    ncrawls = sql1(DB, 'SELECT count(*) FROM crawl')
    time.sleep(1.1)
    smb.stop()
    try:
        t0, t1, res = scan_save(DB, smb.url('MAILDAT$', 'PO1'), want_rc=1)
    finally:
        smb.start()
    t.like(res.stdout, r'unreachable', 'scan shows the crawl unreachable')
    err = '127.0.0.1 port %d: Connection refused' % S['port']
    po = sql(DB, "SELECT * FROM postoffices WHERE path = 'PO1'")
    after = location_rows(DB)[loc('PO1')]
    e = ESTATE['PO1']
    t.eq(len(po), 1, 'the postoffice stays in postoffices')
    po = po[0]
    t.eq((po['network'], po['postoffice'], po['serial'], po['serial_raw'],
          po['kind']),
         (e['network'], e['postoffice'], e['serial'], e['serial_raw'],
          e['kind']), 'a failed crawl keeps the identity')
    t.eq((po['last_outcome'], po['last_error'], po['failures']),
         ('unreachable', err, 1), 'last_outcome unreachable, error, failures')
    t.eq((after['first_seen_us'], after['last_seen_us'], after['last_ok_us']),
         (before['first_seen_us'], before['last_seen_us'],
          before['last_ok_us']),
         'first_seen, last_seen and last_ok do not move on a failure')
    t.ok(t0 <= after['last_crawled_us'] <= t1 and
         po['last_crawled'] == iso(after['last_crawled_us']) and
         po['last_crawled'] > po['last_seen'],
         'last_crawled is the failed crawl', diag=repr((po, after)))
    t.eq(sql(DB, "SELECT * FROM routes WHERE location = '%s'" % loc('PO1')),
         routes_before, 'a failed crawl keeps the routes')
    c = sql(DB, 'SELECT * FROM crawls ORDER BY id DESC LIMIT 1')[0]
    t.eq({k: c[k] for k in ('id', 'location', 'outcome', 'error', 'network',
                            'serial')},
         {'id': ncrawls + 1, 'location': loc('PO1'),
          'outcome': 'unreachable', 'error': err, 'network': None,
          'serial': None}, 'the failed crawl is in crawls')

    time.sleep(1.1)
    t0, t1, _ = scan_save(DB, smb.url('MAILDAT$', 'PO1'))
    again = location_rows(DB)[loc('PO1')]
    po = sql(DB, "SELECT * FROM postoffices WHERE path = 'PO1'")[0]
    t.eq((po['last_outcome'], po['last_error'], po['failures']),
         ('ok', None, 0), 'the next good crawl clears the failure')
    t.ok(again['last_seen_us'] > before['last_seen_us'] and
         t0 <= again['last_seen_us'] <= t1 and
         po['last_seen'] > iso(before['last_seen_us']) and
         again['first_seen_us'] == S['first_seen']['PO1'],
         'last_seen advances again, first_seen stays',
         diag=repr((before, again)))
    t.eq(sql(DB, 'SELECT count(*) AS n FROM postoffice_history WHERE '
             "location = '%s'" % loc('PO1')), [{'n': 0}],
         'a failure and a recovery are no identity change')


def expected_listings():
    """What each listing command prints, built from the estate and the
    stored microsecond times (not from the views)."""
    raw = location_rows(DB)
    out = {}
    rows = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        r = raw[loc(name)]
        rows.append((loc(name), '%s/%s' % (e['network'], e['postoffice']),
                     e['serial'], e['kind'], 'ok', iso(r['first_seen_us']),
                     iso(r['last_seen_us'])))
    out['postoffices'] = (['location', 'address', 'serial', 'kind',
                           'last_outcome', 'first_seen', 'last_seen'], rows)
    rows = []
    for name in sorted(ESTATE):
        e = ESTATE[name]
        for to, typ, _ in sorted(ROUTES[name]):
            rows.append((loc(name), '%s/%s' % (e['network'],
                                               e['postoffice']), to, typ))
    out['routes'] = (['location', 'address', 'to_address', 'type'], rows)
    rows = [(r['id'], r['location'], iso(r['started_us']),
             iso(r['finished_us']), r['outcome'], r['error'])
            for r in reversed(crawl_rows(DB))]
    out['crawls'] = (['id', 'location', 'started', 'finished', 'outcome',
                      'error'], rows)
    return out


def case_listings():
    want = expected_listings()
    t.eq(len(want['crawls'][1]), 11, 'eleven crawls so far')
    for cmd in ('postoffices', 'routes', 'crawls'):
        cols, rows = want[cmd]
        for fmt in ('table', 'csv', 'json'):
            res = ctl('--db', DB, '--format', fmt, cmd)
            t.eq((res.returncode, res.stderr), (0, ''),
                 'maildatctl %s --format %s exits 0' % (cmd, fmt))
            t.eq(res.stdout, RENDER[fmt](cols, rows),
                 'maildatctl %s --format %s prints exactly' % (cmd, fmt))
        if cmd == 'postoffices':
            res = ctl('--format', 'json', cmd, '--db', DB)
            t.eq(res.stdout, render_json(cols, rows),
                 'options after the command work too')

    h = sql(DB, 'SELECT changed_us, field, old, new FROM identity_change '
            'ORDER BY id')
    cols = ['location', 'changed', 'field', 'old', 'new']
    rows = [(loc('PO3'), iso(r['changed_us']), r['field'], r['old'],
             r['new']) for r in h]
    for fmt in ('table', 'csv', 'json'):
        res = ctl('--db', DB, '--format', fmt, 'history', loc('PO3'))
        t.eq((res.returncode, res.stdout), (0, RENDER[fmt](cols, rows)),
             'maildatctl history --format %s prints the three changes in '
             'order' % fmt, diag=res.stderr)
        res = ctl('--db', DB, '--format', fmt, 'history', loc('PO1'))
        t.eq((res.returncode, res.stdout), (0, RENDER[fmt](cols, [])),
             'maildatctl history --format %s of a location without '
             'changes prints only the header' % fmt, diag=res.stderr)
    # A location string with a quote is a parameter, not SQL.
    res = ctl('--db', DB, 'history', "x' OR '1'='1")
    t.eq((res.returncode, res.stdout), (0, render_table(cols, [])),
         'history binds LOCATION as a parameter')

    q = ('SELECT address, serial, kind, failures FROM postoffices '
         'ORDER BY address')
    cols = ['address', 'serial', 'kind', 'failures']
    rows = [('%s/%s' % (e['network'], e['postoffice']), e['serial'],
             e['kind'], 0) for e in
            sorted(ESTATE.values(), key=lambda e: '%s/%s' % (
                e['network'], e['postoffice']))]
    for fmt in ('table', 'csv', 'json'):
        res = ctl('--db', DB, '--format', fmt, 'query', q)
        t.eq((res.returncode, res.stdout, res.stderr),
             (0, RENDER[fmt](cols, rows), ''),
             'maildatctl query over a view, --format %s' % fmt)
    q = ("SELECT x'00ff' AS b, 1.5 AS r, NULL AS n, -3 AS i, "
         "'a,b \"c\"' AS s, ' lead' AS l")
    cols = ['b', 'r', 'n', 'i', 's', 'l']
    rows = [('00ff', 1.5, None, -3, 'a,b "c"', ' lead')]
    for fmt in ('table', 'csv', 'json'):
        res = ctl('--db', DB, '--format', fmt, 'query', q)
        t.eq((res.returncode, res.stdout), (0, RENDER[fmt](cols, rows)),
             'query: blob as hex, real, NULL, integer, quoting (%s)' % fmt,
             diag=res.stderr)
    for fmt in ('table', 'csv', 'json'):
        res = ctl('--db', DB, '--format', fmt, 'query',
                  'SELECT location, serial FROM postoffices WHERE 0')
        t.eq((res.returncode, res.stdout),
             (0, RENDER[fmt](['location', 'serial'], [])),
             'query with no rows prints the header only (%s)' % fmt)

    # The README's example: postoffices that share a serial.
    q = ("SELECT serial, count(*) AS n, "
         "group_concat(address || ' at ' || location, '; ') AS postoffices "
         "FROM postoffices GROUP BY serial_raw "
         "HAVING count(DISTINCT address) > 1")
    res = ctl('--db', DB, '--format', 'json', 'query', q)
    got = json.loads(res.stdout) if res.returncode == 0 else res
    if isinstance(got, list):
        for r in got:
            r['postoffices'] = sorted(r['postoffices'].split('; '))
    t.eq(got, [{'serial': '22-28798', 'n': 2, 'postoffices': [
        'CORP/HQ at ' + loc('PO1'), 'EXCH/SITE2 at ' + loc('PO4')]}],
        'query: the duplicate-serial example finds PO1 and PO4')
    res = ctl('--db', DB, '--format', 'csv', 'query',
              'SELECT address, to_address FROM routes '
              "WHERE address = 'EXCH/SITE2'")
    t.eq(res.stdout, 'address,to_address\r\nEXCH/SITE2,CORP/HQ\r\n',
         'query: the route graph example')


def case_reader_snapshot():
    smb = S['smb']
    n0 = sql1(DB, 'SELECT count(*) FROM crawls')
    reader = SqliteShell(DB)
    try:
        t.eq(reader.cmd('BEGIN; SELECT count(*) FROM crawls;'), [str(n0)],
             'the sqlite3 reader opens a read transaction')
        times = []
        for i in range(3):
            start = time.monotonic()
            res = ctl('--db', DB, 'scan', '--save', smb.url('MAILDAT$'))
            times.append(time.monotonic() - start)
            t.eq((res.returncode, res.stderr), (0, ''),
                 'scan --save %d succeeds while the reader holds its '
                 'transaction' % (i + 1))
        t.ok(max(times) < 4, 'the writes did not wait for the reader '
             '(busy timeout is 5 s)', diag='%r' % times)
        t.eq(reader.cmd('SELECT count(*) FROM crawls;'), [str(n0)],
             'the reader still sees its snapshot')
        t.eq(sql1(DB, 'SELECT count(*) FROM crawls'), n0 + 12,
             'a new reader sees the 12 new crawls')
        res = ctl('--db', DB, 'query', 'SELECT count(*) AS n FROM crawls',
                  '--format', 'csv')
        t.eq(res.stdout, 'n\r\n%d\r\n' % (n0 + 12),
             'maildatctl query sees them too')
        t.eq(reader.cmd('COMMIT; SELECT count(*) FROM crawls;'),
             [str(n0 + 12)], 'after COMMIT the reader sees the new rows')
    finally:
        reader.close()
    t.eq(sql1(DB, 'PRAGMA integrity_check'), 'ok', 'integrity_check ok')


def kill_counts(db):
    """(integrity_check, number of crawl rows) as the sqlite3 CLI sees
    them; (None, 0) before the schema exists."""
    res = harness.run([SQLITE3, db, 'PRAGMA integrity_check;',
                       "SELECT count(*) FROM sqlite_master WHERE name = "
                       "'crawl';"])
    lines = res.stdout.split()
    if res.returncode != 0 or len(lines) != 2:
        raise AssertionError('sqlite3 integrity check: %s' % res)
    if lines[1] == '0':
        return lines[0], 0
    return lines[0], sql1(db, 'SELECT count(*) FROM crawl')


def case_kill_random():
    smb = S['smb']
    kdb = os.path.join(WORK, 'kill.db')
    urls = [smb.url('KILL', 'K%02d' % i) for i in range(KILL_N)] * 2
    seed = int(os.environ.get('MAILDAT_TEST_SEED') or
               random.randrange(1 << 30))
    t.diag('kill seed %d (set MAILDAT_TEST_SEED to repeat)' % seed)
    rng = random.Random(seed)
    kills = alive_kills = in_flight = 0
    bad = []
    bad_integrity = []
    prev = 0
    preexec = getattr(harness, '_make_preexec', None)
    # The kills fall within the first 80 % of the time a whole scan takes
    # (measured here, on a scratch database), whatever this machine's pace.
    t0 = time.monotonic()
    ctl('--db', os.path.join(WORK, 'kill-timing.db'), '--format', 'csv',
        'scan', '--save', *urls)
    span = 0.8 * (time.monotonic() - t0)
    t.diag('a whole scan --save of %d locations takes %.3f s' % (
        len(urls), span / 0.8))
    for i in range(30):
        delay = rng.uniform(0, span)
        p = subprocess.Popen(
            [CTL, '--db', kdb, '--format', 'csv', 'scan', '--save'] + urls,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=preexec(os.getpid()) if preexec else None)
        try:
            time.sleep(delay)
            if p.poll() is None:
                alive_kills += 1
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        kills += 1
        text = out.decode('utf-8', 'replace')
        printed = sum(1 for line in text.split('\r\n')[1:-1]
                      if line.startswith('\\\\'))
        integrity, count = kill_counts(kdb)
        if integrity != 'ok':
            bad_integrity.append((i, integrity))
        if not prev + printed <= count <= prev + printed + 1:
            bad.append((i, round(delay, 3), prev, printed, count,
                        err.decode('utf-8', 'replace')[-300:]))
        if count == prev + printed + 1:
            in_flight += 1
        prev = max(prev, count)
    t.diag('%d kills, %d while maildatctl ran, %d with a commit not yet '
           'printed' % (kills, alive_kills, in_flight))
    t.ok(alive_kills >= 25, 'most kills hit a running maildatctl',
         diag='%d of %d' % (alive_kills, kills))
    t.eq(bad_integrity, [], 'integrity_check ok after every SIGKILL')
    t.eq(bad, [], 'after every SIGKILL the crawl rows grew by exactly the '
         'results printed (committed), at most one more: no commit lost, '
         'none undone')
    res = ctl('--db', kdb, '--format', 'csv', 'scan', '--save', *urls)
    t.eq((res.returncode, res.stderr), (0, ''),
         'a scan --save after the kills succeeds (no stale lock)')
    integrity, count = kill_counts(kdb)
    t.eq(count, prev + len(urls), 'it saves all %d results' % len(urls))
    t.eq(integrity, 'ok', 'integrity_check ok')
    checks = [
        ('PRAGMA foreign_key_check', [], 'foreign_key_check finds nothing'),
        ('SELECT count(*) AS n FROM crawl WHERE location_id NOT IN '
         '(SELECT id FROM location)', [{'n': 0}],
         'no crawl row without its location row'),
        ('SELECT count(*) AS n FROM location l WHERE NOT EXISTS (SELECT 1 '
         'FROM crawl c WHERE c.location_id = l.id)', [{'n': 0}],
         'no location row without a crawl'),
        ("SELECT count(*) AS n FROM crawls WHERE outcome = 'ok' AND "
         'location NOT IN (SELECT location FROM postoffices)', [{'n': 0}],
         'every ok crawl has its postoffices row'),
        ("SELECT count(*) AS n FROM crawl WHERE outcome <> 'ok' OR "
         'serial_raw IS NULL OR network IS NULL OR nroutes <> 3', [{'n': 0}],
         'every crawl row is complete (ok, identity, 3 routes)'),
        ('SELECT count(*) AS n FROM location l WHERE last_crawl_id IS NOT '
         '(SELECT max(id) FROM crawl c WHERE c.location_id = l.id)',
         [{'n': 0}], 'each location points at its newest crawl'),
        ('SELECT count(*) AS n FROM location l WHERE (SELECT count(*) FROM '
         'route r WHERE r.location_id = l.id AND r.crawl_id = '
         'l.last_crawl_id) <> 3', [{'n': 0}],
         'each location has the 3 routes of its newest crawl'),
        ('SELECT count(*) AS n, count(*) = max(id) AS dense FROM crawl',
         [{'n': count, 'dense': 1}], 'crawl ids have no gaps'),
        ('SELECT count(*) AS n FROM postoffices', [{'n': KILL_N}],
         'postoffices holds the %d postoffices' % KILL_N),
        ('SELECT count(*) AS n FROM identity_change', [{'n': 0}],
         'no identity change was invented'),
    ]
    for q, want, desc in checks:
        t.eq(sql(kdb, q), want, desc)
    S['kdb'] = kdb


def case_kill_writer_before_commit():
    kdb = S.get('kdb')
    if kdb is None:
        raise harness.SkipTest('the random kill case did not finish')
    smb = S['smb']
    n0 = sql1(kdb, 'SELECT count(*) FROM crawl')
    before = dump(kdb)
    writer = SqliteShell(kdb)
    try:
        # Enough rows that SQLite spills uncommitted pages into the WAL.
        got = writer.cmd(
            'BEGIN IMMEDIATE; '
            'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n '
            'WHERE i < 100000) '
            'INSERT INTO crawl (location_id, started_us, finished_us, '
            "outcome, error) SELECT 1, i, i, 'error', 'uncommitted' FROM n; "
            "SELECT changes(); INSERT INTO crawl (location_id, started_us, "
            "finished_us, outcome, error) VALUES (1, 1, 1, 'error', 'last');"
            'SELECT count(*) FROM crawl;', timeout=60)
        t.eq(got, ['100000', str(n0 + 100001)],
             'the sqlite3 writer inserted 100001 rows, not committed')
        wal = os.path.getsize(kdb + '-wal') if os.path.exists(kdb + '-wal') \
            else 0
        t.ok(wal > 1000000, 'uncommitted pages reached the WAL file',
             diag='-wal is %d bytes' % wal)
        start = time.monotonic()
        res = ctl('--db', kdb, '--format', 'csv', 'query',
                  "SELECT count(*) AS n FROM crawls WHERE outcome = 'error'")
        t.eq((res.returncode, res.stdout), (0, 'n\r\n0\r\n'),
             'maildatctl query reads while the writer holds the lock, '
             'without its rows')
        t.ok(time.monotonic() - start < 3, 'the read did not wait')
        writer.proc.send_signal(signal.SIGKILL)
        writer.proc.wait(10)
    finally:
        writer.kill()
    t.eq(sql1(kdb, 'PRAGMA integrity_check'), 'ok',
         'integrity_check ok after the writer was SIGKILLed')
    t.eq(sql1(kdb, "SELECT count(*) FROM crawl WHERE outcome = 'error'"), 0,
         'none of the uncommitted rows is there')
    t.eq(sql1(kdb, 'SELECT count(*) FROM crawl'), n0,
         'the crawl count is what was committed')
    t.ok(dump(kdb) == before, 'the database content is unchanged')
    res = ctl('--db', kdb, 'scan', '--save', smb.url('KILL', 'K00'))
    t.eq((res.returncode, res.stderr), (0, ''),
         'scan --save works after the writer died (lock released)')
    t.eq(sql1(kdb, 'SELECT count(*) FROM crawl'), n0 + 1,
         'and its crawl is saved')


def _refused_unchanged(path, args, pattern, say, desc):
    """Run maildatctl ARGS against PATH; it must exit 1 with PATTERN on
    stderr, print nothing on stdout and leave PATH and its directory as
    they were."""
    d = os.path.dirname(path)
    files = sorted(os.listdir(d))
    digest = sha256(path)
    res = ctl('--db', path, *args)
    t.eq(res.returncode, 1, '%s: exit 1' % desc, diag=str(res))
    t.like(res.stderr, pattern, '%s: says %s' % (desc, say))
    t.eq(res.stdout, '', '%s: prints nothing on stdout' % desc)
    t.eq(sha256(path), digest, '%s: the file is unchanged' % desc)
    t.eq(sorted(os.listdir(d)), files, '%s: no file added next to it' % desc)
    return res


def case_not_ours():
    smb = S['smb']
    d = os.path.join(WORK, 'notours')
    os.mkdir(d)
    junk = os.path.join(d, 'junk.db')
    with open(junk, 'wb') as f:
        f.write(random.Random(7).randbytes(8192)
                if hasattr(random.Random, 'randbytes') else os.urandom(8192))
    d2 = os.path.join(WORK, 'foreign')
    os.mkdir(d2)
    foreign = os.path.join(d2, 'other.db')
    res = harness.run([SQLITE3, foreign,
                       'CREATE TABLE foo(x); INSERT INTO foo VALUES (42);'])
    if res.returncode != 0:
        raise AssertionError('sqlite3: %s' % res)
    for path, what in ((junk, 'random bytes'), (foreign, 'a foreign SQLite '
                                                'database')):
        for args in (['postoffices'], ['query', 'SELECT 1'],
                     ['scan', '--save', smb.url('MAILDAT$', 'PO1')]):
            _refused_unchanged(path, args,
                               r'^maildatctl: %s: not a maildatd database'
                               % re.escape(path),
                               "'not a maildatd database'",
                               '%s, %s' % (what, ' '.join(args[:2])))
    t.eq(sql(foreign, 'SELECT x FROM foo'), [{'x': 42}],
         'the foreign database still holds its row')

    d3 = os.path.join(WORK, 'empty')
    os.mkdir(d3)
    empty = os.path.join(d3, 'empty.db')
    open(empty, 'wb').close()
    _refused_unchanged(empty, ['postoffices'], r'the database is empty; run '
                       r'maildatd or maildatctl scan --save once',
                       'it is empty, run scan --save once',
                       'an empty file, postoffices')
    missing = os.path.join(d3, 'missing.db')
    res = ctl('--db', missing, 'postoffices')
    t.eq(res.returncode, 1, 'a missing database: postoffices exits 1')
    t.like(res.stderr, r'cannot open', 'a missing database: says cannot '
           'open')
    t.ok(not os.path.exists(missing), 'a read does not create the file')


def case_newer():
    smb = S['smb']
    d = os.path.join(WORK, 'newer')
    os.mkdir(d)
    db = os.path.join(d, 'newer.db')
    scan_save(db, smb.url('MAILDAT$', 'PO1'))
    res = harness.run([SQLITE3, db, 'PRAGMA user_version = 99;'])
    t.eq(res.returncode, 0, 'sqlite3 sets user_version 99')
    n = sql1(db, 'SELECT count(*) FROM crawl')
    want = (r'^maildatctl: %s: database schema version 99 is newer than '
            r'this maildatd \(%d\); upgrade maildatd'
            % (re.escape(db), S['nmigrations']))
    for args in (['postoffices'], ['crawls'], ['query', 'SELECT 1'],
                 ['scan', '--save', smb.url('MAILDAT$', 'PO1')]):
        before = dump(db)
        st = db_state(db)
        res = ctl('--db', db, *args)
        t.eq(res.returncode, 1, 'schema 99, %s: exit 1' % args[0],
             diag=str(res))
        t.like(res.stderr, want, 'schema 99, %s: newer than this maildatd'
               % args[0])
        t.eq(db_state(db), st, 'schema 99, %s: the file is unchanged'
             % args[0])
        t.ok(dump(db) == before, 'schema 99, %s: the content is unchanged'
             % args[0])
    t.eq((sql1(db, 'PRAGMA user_version'),
          sql1(db, 'SELECT count(*) FROM crawl')), (99, n),
         'still version 99 with its crawl rows')


def case_migrate_v1():
    smb = S['smb']
    schema = open(os.path.join(harness.srcdir(), 'schema', 'schema.sql'),
                  encoding='utf-8').read()
    markers = re.findall(r'(?m)^--[ \t]*migration[ \t]+([0-9]+)[ \t]*$',
                         schema)
    t.eq(markers, [str(i + 1) for i in range(len(markers))],
         'schema.sql numbers its migrations 1..N')
    t.eq(len(markers), S['nmigrations'], 'a new database has user_version '
         'N = the number of migrations')
    m = re.search(r'(?m)^--[ \t]*migration[ \t]+2[ \t]*$', schema)
    t.ok(m is not None, 'schema.sql has a migration 2')
    v1 = schema[:m.start()]
    d = os.path.join(WORK, 'v1')
    os.mkdir(d)
    db = os.path.join(d, 'v1.db')
    old_loc = '\\\\oldhost\\MAILDAT$'
    old_raw = serial_raw_hex('33-11111')
    t_old = T0 - 30 * DAY
    inserts = """
PRAGMA user_version = 1;
INSERT INTO location (id, location, host, port, share, path,
  first_crawled_us, last_crawled_us, last_crawl_id, last_outcome, last_error,
  first_seen_us, last_seen_us, last_ok_us, network, postoffice, serial_raw,
  serial, kind, flags, nos_type, db_version, product_version, checksum_ok)
VALUES (1, '%(loc)s', 'oldhost', 0, 'MAILDAT$', '', %(t)d, %(t2)d, 2,
  'unreachable', 'oldhost port 445: Connection refused', %(t)d, %(t)d, %(t)d,
  'OLD', 'PO', x'%(raw)s', '33-11111', 'msmail', 0, 1, 0, 2, 1);
INSERT INTO crawl (id, location_id, started_us, finished_us, outcome, error,
  network, postoffice, serial_raw, serial, kind, checksum_ok, nroutes)
VALUES (1, 1, %(t)d, %(t)d, 'ok', NULL, 'OLD', 'PO', x'%(raw)s', '33-11111',
  'msmail', 1, 1),
  (2, 1, %(t2)d, %(t2)d, 'unreachable',
  'oldhost port 445: Connection refused', NULL, NULL, NULL, NULL, NULL, NULL,
  NULL);
INSERT INTO route (location_id, seq, to_network, to_postoffice, type,
  crawl_id) VALUES (1, 0, 'OLD', 'OTHER', 0, 1);
INSERT INTO identity_change (location_id, crawl_id, changed_us, field, old,
  new) VALUES (1, 1, %(t)d, 'postoffice', 'PREV', 'PO');
""" % {'loc': old_loc, 't': t_old, 't2': t_old + DAY, 'raw': old_raw}
    res = harness.run([SQLITE3, '-bail', db], input=v1 + inserts)
    t.eq((res.returncode, res.stderr), (0, ''),
         'sqlite3 builds a version-1 database from migration 1')
    t.eq(sql1(db, 'PRAGMA user_version'), 1, 'it is at version 1')
    t.ok(sql(db, "SELECT name FROM pragma_table_info('location') WHERE "
             "name = 'failures'") == [], 'it has no failures column yet')
    before = dump(db)
    for args in (['postoffices'], ['query', 'SELECT 1']):
        st = db_state(db)
        res = ctl('--db', db, *args)
        t.eq(res.returncode, 1, 'version 1, read-only %s: exit 1' % args[0],
             diag=str(res))
        t.like(res.stderr, r'^maildatctl: %s: database schema version 1 is '
               r'older than this maildatd \(%d\); run maildatd or maildatctl '
               r'scan --save once to upgrade' % (re.escape(db),
                                                 S['nmigrations']),
               'version 1, %s: says it must be upgraded' % args[0])
        t.eq(db_state(db), st, 'version 1, %s: the file is unchanged'
             % args[0])
    t.ok(dump(db) == before, 'the read-only attempts changed nothing')

    t0, t1, res = scan_save(db, smb.url('MAILDAT$', 'PO1'))
    t.eq(res.stderr, '', 'the upgrade prints nothing on stderr')
    t.eq(sql1(db, 'PRAGMA user_version'), S['nmigrations'],
         'scan --save upgraded it to version %d' % S['nmigrations'])
    t.eq(sql1(db, 'PRAGMA integrity_check'), 'ok', 'integrity_check ok')
    t.eq(sql(db, 'PRAGMA foreign_key_check'), [], 'foreign_key_check ok')
    t.eq(sql1(db, 'PRAGMA journal_mode'), 'wal', 'and switched it to WAL')
    t.eq(sql(db, "SELECT location, address, serial, serial_raw, kind, "
             "first_seen, last_seen, last_outcome, failures FROM postoffices "
             "WHERE location = '%s'" % old_loc),
         [{'location': old_loc, 'address': 'OLD/PO', 'serial': '33-11111',
           'serial_raw': old_raw, 'kind': 'msmail',
           'first_seen': iso(t_old), 'last_seen': iso(t_old),
           'last_outcome': 'unreachable', 'failures': 1}],
         'the old postoffice is kept, failures backfilled from its crawls')
    t.eq([(r['id'], r['location'], r['outcome'], r['started'])
          for r in sql(db, 'SELECT * FROM crawls ORDER BY id')],
         [(1, old_loc, 'ok', iso(t_old)),
          (2, old_loc, 'unreachable', iso(t_old + DAY)),
          (3, loc('PO1'), 'ok', iso(sql1(db, 'SELECT started_us FROM crawl '
                                          'WHERE id = 3')))],
         'the old crawls are kept, the new one follows')
    t.eq(sql(db, "SELECT address, to_address, type FROM routes WHERE "
             "location = '%s'" % old_loc),
         [{'address': 'OLD/PO', 'to_address': 'OLD/OTHER', 'type': 'msmail'}],
         'the old routes are kept')
    t.eq(sql(db, 'SELECT location, changed, field, old, new FROM postoffice_history'),
         [{'location': old_loc, 'changed': iso(t_old), 'field': 'postoffice',
           'old': 'PREV', 'new': 'PO'}], 'the old history is kept')
    t.eq(sql(db, "SELECT address, failures, last_outcome FROM postoffices "
             "WHERE location = '%s'" % loc('PO1')),
         [{'address': 'CORP/HQ', 'failures': 0, 'last_outcome': 'ok'}],
         'the new crawl is saved in the upgraded schema')
    res = ctl('--db', db, '--format', 'csv', 'postoffices')
    t.eq(res.returncode, 0, 'the upgraded database reads read-only',
         diag=str(res))
    # README example: postoffices not seen for a week.
    res = ctl('--db', db, '--format', 'csv', 'query',
              "SELECT location, last_seen FROM postoffices WHERE last_seen < "
              "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')")
    t.eq(res.stdout, 'location,last_seen\r\n%s,%s\r\n' % (old_loc,
                                                         iso(t_old)),
         'query: the not-seen-for-a-week example finds the old postoffice')


REFUSED = [
    ("INSERT INTO location (location, host, share, first_crawled_us, "
     "last_crawled_us, last_outcome) VALUES ('x', 'h', 's', 1, 1, 'ok')",
     "INSERT into table 'location'"),
    ("INSERT INTO crawl (location_id, started_us, finished_us, outcome) "
     "VALUES (1, 1, 1, 'ok')", "INSERT into table 'crawl'"),
    ("UPDATE location SET serial = '00-00000'", "UPDATE of table 'location'"),
    ("UPDATE crawl SET outcome = 'error'", "UPDATE of table 'crawl'"),
    ('DELETE FROM crawl', "DELETE from table 'crawl'"),
    ('DELETE FROM route', "DELETE from table 'route'"),
    ("REPLACE INTO alert (rule, severity, key, message, raised_us, "
     "last_seen_us) VALUES ('r', 'err', 'k', 'm', 1, 1)",
     "INSERT into table 'alert'"),
    ('WITH x AS (SELECT 1) DELETE FROM identity_change',
     "DELETE from table 'identity_change'"),
    ("ATTACH '%(dir)s/attached.db' AS a", 'ATTACH is not allowed'),
    ('PRAGMA writable_schema = 1', 'PRAGMA writable_schema'),
    ('PRAGMA writable_schema', 'PRAGMA writable_schema'),
    ("SELECT load_extension('x')", 'load_extension'),
    ("SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0', "
     "'sqlite3_open')", 'load_extension'),
    ('PRAGMA user_version = 5', 'setting PRAGMA user_version'),
    ('PRAGMA journal_mode = DELETE', 'PRAGMA journal_mode'),
    ('PRAGMA query_only = 0', 'PRAGMA query_only'),
    ('PRAGMA wal_checkpoint(TRUNCATE)', 'PRAGMA wal_checkpoint'),
    ('CREATE TABLE t (x)', 'CREATE'),
    ('CREATE TEMP VIEW v AS SELECT 1', 'CREATE'),
    ('DROP VIEW postoffices', 'DROP'),
    ('ALTER TABLE crawl ADD COLUMN y', 'ALTER TABLE'),
    ('BEGIN', 'BEGIN is not allowed'),
    ('VACUUM', 'would write'),
    ("VACUUM INTO '%(dir)s/copy.db'", 'would write'),
    ('REINDEX', 'REINDEX'),
    ('ANALYZE', 'not allowed'),
    ('SELECT 1; DELETE FROM crawl', 'only one SQL statement'),
]


def case_query_refused():
    d = os.path.dirname(DB)
    before = dump(DB)
    st = db_state(DB)
    files = sorted(os.listdir(d))
    for q, what in REFUSED:
        q = q % {'dir': d}
        res = ctl('--db', DB, 'query', q)
        t.ok(res.returncode == 1 and res.stdout == '' and
             re.search(r'^maildatctl: query refused: .*%s' % re.escape(what),
                       res.stderr) is not None,
             'query refused: %s' % q, diag=str(res))
    t.eq(db_state(DB), st, 'the database file is unchanged')
    t.ok(dump(DB) == before, 'the database content is unchanged')
    t.eq(sorted(os.listdir(d)), files, 'no file was created (ATTACH, '
         'VACUUM INTO)')
    res = ctl('--db', DB, '--format', 'csv', 'query',
              "SELECT count(*) AS n FROM postoffices p JOIN routes r "
              "ON r.location = p.location WHERE p.kind = 'connector'")
    t.eq(res.stdout, 'n\r\n%d\r\n' % (len(ROUTES['PO1']) +
                                      len(ROUTES['PO4'])),
         'a SELECT joining views works')
    res = ctl('--db', DB, '--format', 'csv', 'query',
              'PRAGMA integrity_check')
    t.eq(res.stdout, 'integrity_check\r\nok\r\n',
         'a read-only PRAGMA works')


# ---------------------------------------------------------------------------

def main():
    started = time.monotonic()
    S['nmigrations'] = len(re.findall(
        r'(?m)^--[ \t]*migration[ \t]+[0-9]+[ \t]*$',
        open(os.path.join(harness.srcdir(), 'schema', 'schema.sql'),
             encoding='utf-8').read()))
    try:
        with harness.Samba(WORK, shares={'MAILDAT$': SHARE,
                                         'KILL': KSHARE}) as smb:
            S['smb'] = smb
            S['port'] = smb.port
            t.run(case_views_first_scan, 'views after the first crawls')
            t.run(case_history, 'postoffice_history')
            t.run(case_failed_crawl, 'a failed crawl')
            t.run(case_listings, 'listings in table, csv, json')
            t.run(case_reader_snapshot, 'a reader during writes')
            t.run(case_kill_random, 'maildatctl SIGKILLed while saving')
            t.run(case_kill_writer_before_commit, 'a writer killed '
                  'before COMMIT')
            t.run(case_not_ours, 'files that are not our database')
            t.run(case_newer, 'a newer schema')
            t.run(case_migrate_v1, 'migration from schema version 1')
            t.run(case_query_refused, 'query is read-only')
    except harness.SkipTest as e:
        t.skip_all(str(e))
    t.diag('t_store.py ran for %.1f s' % (time.monotonic() - started))
    if t.failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        t.diag('work directory kept: %s' % WORK)
    t.done()


if __name__ == '__main__':
    main()
