#!/usr/bin/env python3
"""The lockout guard against servers that count bad logons.

Two private smbd instances (two servers) whose passdb locks an account
after 4 bad logons ("bad lockout attempt" account policy, as a domain's
lockout threshold does), seven shares among them that only one account
may open, and one [credentials] section with a wrong password for all of
them.  lockout_after = 3 and four workers: without the guard's counting
of crawls under way, one round sends seven bad logons at once.

Cases:
  guard     at most lockout_after (3) refused logons in all, the account
            never locked on either server (pdbedit's bad password count);
            the suspension logged once, listed by status as a JSON array,
            raised as a credentials-suspended err alert naming the account,
            the hosts and the NT status; it survives a reload that does not
            touch the credentials and a restart of the daemon (it is in
            the database); maildatctl resume lifts it (again at most 3
            refusals); a corrected auth file and a reload lift it for
            good: the crawls are ok and the alert clears

Prints TAP for automake's tap-driver.sh.  Needs root (smbd, useradd,
privilege drop).  Every process started here is stopped in a finally
block; the harness watchdog catches the rest if this script is killed.
"""

import json
import os
import pwd
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402
from harness import (Daemon, loc, make_readable, mkpo, target,  # noqa: E402
                     wait_until, write_auth)

t = harness.Tap()

USER = 'mdlock1'
PASSWORD = 'Lock-right-4188'
WRONG = 'not-the-password'
LOCK_AT = 4          # the servers lock the account at this many
LOCKOUT_AFTER = 3    # the daemon stops before


def bad_count(smb):
    """(bad password count, locked) of USER in SMB's passdb."""
    res = harness.run([smb.pdbedit, '-s', smb.conf, '-v', '-u', USER])
    count, locked = None, None
    for line in res.stdout.splitlines():
        if line.startswith('Bad password count'):
            count = int(line.split(':', 1)[1])
        if line.startswith('Account Flags'):
            locked = 'L' in line.split(':', 1)[1]
    return count, locked


def reset_account(smb):
    """Zero USER's bad password count (nothing is locked to undo)."""
    res = harness.run([smb.pdbedit, '-s', smb.conf, '-z', '-u', USER])
    assert res.returncode == 0, res


def total_bad(servers):
    counts = [bad_count(s) for s in servers]
    return sum(c or 0 for c, _ in counts), any(l for _, l in counts), counts


def status_suspensions(d):
    st = d.status() or {}
    raw = st.get('suspended_credentials')
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return 'not JSON: %r' % raw


def case_guard(env):
    servers, shares, slog, work = (env['servers'], env['shares'],
                                   env['slog'], env['work'])
    auth = os.path.join(work, 'svc.auth')
    nobody = pwd.getpwnam('nobody')
    write_auth(auth, USER, WRONG, 0o600)
    # The daemon's user owns it, so that a reload reads it again.
    os.chown(auth, nobody.pw_uid, nobody.pw_gid)
    body = '[credentials svc]\nauth_file = %s\n' % auth
    locs = []
    for i, (smb, share) in enumerate(shares):
        body += target('t%d' % i, smb.url(share), credentials='svc')
        locs.append(loc(smb.port, share))
    d = Daemon(work, 'guard', body, workers=4,
               extra_global='interval = 1s\nbackoff_max = 1s\n'
                            'lockout_after = %d\ntimeout = 10s\n'
                            % LOCKOUT_AFTER)

    def refused():
        return d.query("SELECT count(*) FROM crawls WHERE outcome = "
                       "'auth-failed'")[0][0]
    try:
        d.start()
        t.ok(wait_until(lambda: 'suspended, so that the account is not '
                        'locked out' in d.log(), 20),
             'guard: the suspension is logged', diag=d.log()[-2000:])
        time.sleep(4)       # four more intervals
        n = refused()
        bad, locked, counts = total_bad(servers)
        t.ok(n <= LOCKOUT_AFTER, 'guard: at most lockout_after (%d) '
             'auth-failed crawls over 7 locations on 2 servers (%d)'
             % (LOCKOUT_AFTER, n))
        t.ok(bad <= LOCKOUT_AFTER and not locked, 'guard: the servers '
             'counted at most %d bad logons and locked nothing (%s)'
             % (LOCKOUT_AFTER, counts))
        t.eq(d.log().count('suspended, so that the account'), 1,
             'guard: logged once')
        sp = status_suspensions(d)
        t.ok(isinstance(sp, list) and len(sp) == 1 and
             sp[0].get('name') == 'svc' and
             sp[0].get('account') == 'MAILDATTEST\\' + USER and
             sp[0].get('failures') == LOCKOUT_AFTER and
             '127.0.0.1' in sp[0].get('hosts', '') and
             sp[0].get('status') == 'NT_STATUS_LOGON_FAILURE',
             'guard: status lists the suspension as a JSON array',
             diag=repr(sp))
        msg = slog.wait_for(lambda m: 'credentials-suspended' in m and
                            'raised' in m, 10)
        t.ok(msg is not None and ('MAILDATTEST\\' + USER) in msg and
             'NT_STATUS_LOGON_FAILURE' in msg and '127.0.0.1' in msg and
             msg.startswith('<%d>' % (3 * 8 + 3)),
             'guard: a credentials-suspended err alert names the '
             'account, the hosts and the NT status', diag=repr(msg))

        # A reload that leaves the section alone keeps the suspension.
        with open(d.conf, 'a') as f:
            f.write('# an unrelated edit\n')
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: d.log().count('configuration reloaded')
                        >= 1, 10), 'guard: reloaded')
        time.sleep(3)
        t.eq(refused(), n, 'guard: still suspended after a reload '
             '(no new refusal in 3 s)')
        t.ok(isinstance(status_suspensions(d), list) and
             len(status_suspensions(d)) == 1,
             'guard: status still lists it after the reload')

        # So does a restart: the suspension is in the database.
        t.eq(d.stop(), 0, 'guard: SIGTERM, exit 0')
        d.start()
        time.sleep(3)
        t.eq(refused(), n, 'guard: still suspended after a restart '
             '(no new refusal in 3 s)', diag=d.log()[-1500:])
        sp = status_suspensions(d)
        t.ok(isinstance(sp, list) and len(sp) == 1 and
             sp[0].get('failures') == LOCKOUT_AFTER,
             'guard: status lists the suspension read back from the '
             'database', diag=repr(sp))

        # resume lifts it by hand: again at most lockout_after refusals.
        for smb in servers:
            reset_account(smb)
        r = d.ctl('resume', 'svc')
        t.eq(r.returncode, 0, 'guard: maildatctl resume svc exits 0',
             diag=str(r))
        r2 = d.ctl('resume', 'svc')
        t.ok(r2.returncode != 0 and 'not suspended' in r2.stderr + r2.stdout,
             'guard: a second resume says it is not suspended',
             diag=str(r2))
        t.ok(wait_until(lambda: refused() > n, 10),
             'guard: after resume the credentials are tried again')
        t.ok(wait_until(lambda: d.log().count('suspended, so that the '
                                             'account') >= 2, 15),
             'guard: suspended again')
        time.sleep(3)
        n2 = refused()
        bad, locked, counts = total_bad(servers)
        t.ok(n2 - n <= LOCKOUT_AFTER and bad <= LOCKOUT_AFTER and
             not locked, 'guard: after resume at most %d more refusals, '
             'nothing locked (%d refused, servers %s)'
             % (LOCKOUT_AFTER, n2 - n, counts))

        # The password corrected in the auth file and a reload: lifted.
        for smb in servers:
            reset_account(smb)
        write_auth(auth, USER, PASSWORD, 0o600)
        os.chown(auth, nobody.pw_uid, nobody.pw_gid)
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: 'changed (auth file or account): its '
                        'suspension is lifted' in d.log(), 10),
             'guard: a changed auth file lifts the suspension (logged)',
             diag=d.log()[-1500:])

        def all_ok():
            rows = d.query("SELECT count(DISTINCT location) FROM crawls "
                           "WHERE outcome = 'ok'")
            return rows[0][0] == len(locs)
        t.ok(wait_until(all_ok, 20), 'guard: every location is read with '
             'the corrected password', diag=repr(d.query(
                 "SELECT * FROM locations")))
        t.ok(slog.wait_for(lambda m: 'credentials-suspended' in m and
                           'cleared' in m, 10) is not None,
             'guard: the credentials-suspended alert clears')
        t.eq(status_suspensions(d), [], 'guard: status lists none: []')
        t.eq(d.stop(), 0, 'guard: SIGTERM, exit 0')
    finally:
        d.stop()


def main():
    with harness.suite(t, 'needs root (smbd, useradd, privilege '
                       'drop)') as work:
        srv = os.path.join(work, 'srv')
        dirs = {}
        for i in range(7):
            name = 'lk%d' % i
            dirs[name] = os.path.join(srv, name)
            mkpo('-N', 'LOCK', '-P', 'PO%d' % i, '-s', '40-%05d' % (i + 1),
                 dirs[name])
        make_readable(srv)
        names = sorted(dirs)
        opts = {'valid users': USER, 'guest ok': 'no'}
        policy = {}
        with harness.Samba(work, shares={n: dirs[n] for n in names[:5]},
                           users={USER: PASSWORD},
                           share_options={n: opts for n in names[:5]}) as a, \
                harness.Samba(work, shares={n: dirs[n] for n in names[5:]},
                              users={USER: PASSWORD},
                              share_options={n: opts
                                             for n in names[5:]}) as b, \
                harness.SyslogReceiver(work) as slog:
            for smb in (a, b):
                res = harness.run([smb.pdbedit, '-s', smb.conf, '-P',
                                   'bad lockout attempt', '-C',
                                   str(LOCK_AT)])
                policy[smb.port] = res.returncode
            if any(policy.values()):
                t.bail_out('pdbedit cannot set the lockout policy')
            Daemon.syslog = 'unix:' + slog.path
            shares = [(a, n) for n in names[:5]] + [(b, n)
                                                   for n in names[5:]]
            env = {'work': work, 'servers': (a, b), 'shares': shares,
                   'slog': slog}
            harness.run_cases(t, [('guard', case_guard)], env)


if __name__ == '__main__':
    main()
