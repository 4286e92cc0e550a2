#!/usr/bin/env python3
"""Kerberos logons of maildatd against a real Samba AD DC on loopback.

The suite provisions a domain (samba-tool domain provision, into its own
directory), starts the DC (samba --foreground) on a loopback alias
address of its own (ip addr add 127.77.N.1/32 dev lo, removed at the end)
with NTLM refused (ntlm auth = disabled), exports keytabs for two users
and crawls a share of the DC holding a postoffice written by mkpostoffice.
The DC is named dc1.krbtest.example, a name that only nss_wrapper knows
(LD_PRELOAD=libnss_wrapper.so, NSS_WRAPPER_HOSTS), as Kerberos needs a
host name; the daemon and its workers both resolve it through NSS.
samba runs in a mount namespace of its own with a tmpfs on /run: its
smbd finds winbindd only at the compiled-in /run/samba/winbindd.

Cases:
  keytab        kerberos = required with a root-only keytab: the parent
                gets a ticket before it drops to nobody, the crawl of
                the DC is ok, while the same account's NTLM logon is
                refused by the DC (maildatctl scan -A)
  wrong keytab  a keytab whose key is stale (the password changed since)
                gives auth-failed with the Kerberos error, and the KDC is
                asked once, not at every crawl
  lockout       the lockout guard counts those failures and suspends the
                credentials after lockout_after
  ccache        tickets from kinit -k in a cache of the admin's: maildatctl
                scan --kerberos required --ccache, and the daemon with
                ccache = and principal = (no auth file)
  own keytab    a keytab owned by the daemon's user is read again, as
                that user, at a reload (and new tickets got with it)
  fallback      kerberos = yes: the DC by name with Kerberos, an NTLM-only
                smbd (named by its address) with NTLM, one credential

Skips (TAP skip_all, with the reason) only when a DC cannot be set up
here: not root, Samba's AD DC or its provisioning data, krb5-user or
libnss-wrapper missing, no loopback alias possible.  The DC is heavy, so
in a build with AddressSanitizer the suite skips (CI runs it in the
plain build); set MAILDAT_KERBEROS_ASAN=1 to run it there too.
"""

import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time

import harness
from harness import Daemon, target, wait_until

t = harness.Tap()

REALM = 'KRBTEST.EXAMPLE'
DOMAIN = 'KRBTEST'
DCNAME = 'dc1.krbtest.example'
ADMINPASS = 'Adm1n-Pass!x'
USER = 'monitor'
PASSWORD = 'M0nitor-Pass!x'
STALE = 'stale'
NSS_WRAPPER = 'libnss_wrapper.so'


def need(cond, why):
    if not cond:
        raise harness.SkipTest(why)


def nss_wrapper_path():
    for d in ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
              '/usr/lib64', '/usr/lib'):
        p = os.path.join(d, NSS_WRAPPER)
        if os.path.exists(p):
            return p
    return None


def check_environment():
    need(os.geteuid() == 0, 'needs root (samba AD DC, loopback alias, '
         'privilege drop)')
    for prog in ('samba', 'samba-tool', 'ip', 'unshare'):
        need(shutil.which(prog), '%s not found: the AD DC cannot be set '
             'up (install samba-ad-dc, winbind, iproute2)' % prog)
    need(os.path.exists('/usr/share/samba/setup/ad-schema'),
         'no AD schema (/usr/share/samba/setup/ad-schema): install '
         'samba-ad-provision to provision a domain')
    need(nss_wrapper_path(), 'libnss_wrapper.so not found: install '
         'libnss-wrapper (the DC is reached by a name only it knows)')
    if harness.is_asan() and os.environ.get('MAILDAT_KERBEROS_ASAN') != '1':
        raise harness.SkipTest('AddressSanitizer build: the AD DC is '
                               'provisioned once per CI run, in the plain '
                               'build (MAILDAT_KERBEROS_ASAN=1 runs it here)')


def run(argv, **kw):
    r = harness.run(argv, **kw)
    if r.returncode != 0:
        raise harness.HarnessError('%s failed (rc %s):\n%s%s'
                                   % (' '.join(argv), r.returncode, r.stdout,
                                      r.stderr))
    return r


class DC(object):
    """A provisioned Samba AD DC on a loopback alias address."""

    def __init__(self, work):
        self.dir = os.path.join(work, 'dc')
        self.conf = os.path.join(self.dir, 'etc', 'smb.conf')
        self.krb5conf = os.path.join(work, 'krb5.conf')
        self.hosts = os.path.join(work, 'hosts')
        self.share = os.path.join(work, 'dcshare')
        self.addr = None
        self.proc = None
        self.token = 'dc:%d:%08x' % (os.getpid(), random.getrandbits(32))
        self.out = os.path.join(work, 'samba.out')

    # -- the loopback alias --------------------------------------------------

    def add_alias(self):
        have = subprocess.run(['ip', '-4', 'addr', 'show', 'dev', 'lo'],
                              capture_output=True, text=True).stdout
        for _ in range(50):
            addr = '127.77.%d.1' % random.randint(1, 254)
            if addr + '/' in have:
                continue
            r = subprocess.run(['ip', 'addr', 'add', addr + '/32', 'dev',
                                'lo'], capture_output=True, text=True)
            if r.returncode == 0:
                self.addr = addr
                return
            need(False, 'cannot add a loopback alias address (%s): %s'
                 % (addr, r.stderr.strip()))
        need(False, 'no free loopback alias address in 127.77.0.0/16')

    def remove_alias(self):
        if self.addr is not None:
            subprocess.run(['ip', 'addr', 'del', self.addr + '/32', 'dev',
                            'lo'], capture_output=True)
            self.addr = None

    # -- provisioning --------------------------------------------------------

    def provision(self):
        os.makedirs(self.dir)
        r = harness.run(
            ['samba-tool', 'domain', 'provision', '--realm=' + REALM,
             '--domain=' + DOMAIN, '--server-role=dc',
             '--dns-backend=NONE', '--adminpass=' + ADMINPASS,
             '--host-name=dc1', '--host-ip=' + self.addr,
             '--targetdir=' + self.dir,
             '--option=interfaces=' + self.addr,
             '--option=bind interfaces only=yes'], timeout=180)
        need(r.returncode == 0, 'samba-tool domain provision failed (rc '
             '%s): %s' % (r.returncode, (r.stdout + r.stderr)[-800:]))
        d = self.dir
        with open(self.conf) as f:
            text = f.read()
        text = text[:text.index('[homes]')] if '[homes]' in text else text
        text = text.replace(
            '\tlog file = /var/log/samba/log.%m\n',
            '\tlog file = %s/log.%%m\n' % d)
        text = text.replace('[global]\n', '[global]\n'
                            '\tpid directory = %s\n'
                            '\tncalrpc dir = %s/ncalrpc\n'
                            '\twinbindd socket directory = '
                            '/run/samba/winbindd\n'
                            '\tntlm auth = disabled\n'
                            '\tdisable netbios = yes\n'
                            '\tserver min protocol = NT1\n'
                            '\tserver services = s3fs, kdc, rpc, ldap, '
                            'winbindd\n'
                            '\tpanic action =\n' % (d, d), 1)
        for key in ('server services = s3fs, rpc, nbt',
                    'panic action = /usr/share'):
            text = '\n'.join(l for l in text.split('\n')
                             if key not in l) + '\n'
        text += ('\n[mail]\n\tpath = %s\n\tread only = yes\n'
                 % self.share)
        with open(self.conf, 'w') as f:
            f.write(text)
        with open(self.krb5conf, 'w') as f:
            f.write('[libdefaults]\n\tdefault_realm = %s\n'
                    '\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n'
                    '\tdns_canonicalize_hostname = false\n\trdns = false\n'
                    '[realms]\n\t%s = {\n\t\tkdc = %s:88\n\t}\n'
                    '[domain_realm]\n\t.krbtest.example = %s\n'
                    '\tkrbtest.example = %s\n'
                    % (REALM, REALM, self.addr, REALM, REALM))
        os.chmod(self.krb5conf, 0o644)
        with open(self.hosts, 'w') as f:
            f.write('%s %s dc1\n' % (self.addr, DCNAME))
        os.chmod(self.hosts, 0o644)

    def tool(self, *args, input=None):
        return run(['samba-tool'] + list(args) + ['-s', self.conf],
                   input=input, timeout=120)

    def add_user(self, name, password):
        self.tool('user', 'create', name, password)

    def export_keytab(self, name, path):
        if os.path.exists(path):
            os.unlink(path)
        self.tool('domain', 'exportkeytab', path,
                  '--principal=%s@%s' % (name, REALM))
        os.chmod(path, 0o600)

    # -- the server ----------------------------------------------------------

    def env(self):
        return {'KRB5_CONFIG': self.krb5conf,
                harness.ENV_INSTANCE: self.token}

    def start(self):
        # A tmpfs on /run in samba's own mount namespace: its smbd looks
        # for winbindd at /run/samba/winbindd, compiled in.
        script = ('mount --make-rprivate / && '
                  'mount -t tmpfs -o mode=0755 tmpfs /run && '
                  'mkdir -p /run/samba && exec samba --foreground '
                  '--no-process-group --debug-stdout -s "%s"' % self.conf)
        with open(self.out, 'ab') as out:
            self.proc = subprocess.Popen(
                ['unshare', '--mount', 'sh', '-c', script],
                stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.dir,
                env=harness._child_env(self.env()), start_new_session=True,
                preexec_fn=harness._make_preexec(os.getpid(), no_core=True))
        ok = wait_until(lambda: self.proc.poll() is not None or
                        (self.accepts(88) and self.accepts(445)), 60, 0.2)
        if self.proc.poll() is not None or not ok:
            raise harness.HarnessError('the DC did not start (rc %s); '
                                       'log tail:\n%s'
                                       % (self.proc.poll(), self.log()))

    def accepts(self, port):
        try:
            with socket.create_connection((self.addr, port), 0.5):
                return True
        except OSError:
            return False

    def log(self, n=40):
        try:
            with open(self.out, errors='replace') as f:
                return '\n'.join(f.read().splitlines()[-n:])
        except OSError:
            return ''

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        harness._terminate(lambda: harness.marked_processes(
            harness.ENV_INSTANCE, self.token), grace=2.0)


def client_env(dc):
    """What the daemon and maildatctl need to reach the DC by name."""
    return {'KRB5_CONFIG': dc.krb5conf, 'LD_PRELOAD': nss_wrapper_path(),
            'NSS_WRAPPER_HOSTS': dc.hosts,
            # An ASan build (MAILDAT_KERBEROS_ASAN=1) with a preload.
            # An ASan build: nss_wrapper's RTLD_DEEPBIND dlopen of libc
            # and the link order check both fail under the sanitizer.
            'NSS_WRAPPER_DISABLE_DEEPBIND': '1',
            'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') +
            ':verify_asan_link_order=0'}


def dc_url():
    return 'smb://%s/mail' % DCNAME


def dc_loc():
    """The location of the DC's postoffice (one folder down)."""
    return '\\\\%s\\mail\\MAILDATA' % DCNAME


def case_keytab(env):
    dc, work = env['dc'], env['work']
    # NTLM is refused by the DC: the same account's password logon fails.
    auth = os.path.join(work, 'monitor.auth')
    harness.write_auth(auth, USER, PASSWORD)
    r = harness.run([harness.tool('maildatctl'), 'scan', '-A', auth,
                     dc_url()], env=dict(os.environ, **client_env(dc)),
                    timeout=60)
    t.ok(r.returncode != 0 and 'auth-failed' in r.stdout + r.stderr,
         'keytab: the DC refuses the NTLM logon of the account',
         diag=str(r))
    d = Daemon(work, 'keytab',
               '[credentials dom]\nkerberos = required\nkeytab = %s\n'
               % env['keytab'] + target('dc', dc_url(), credentials='dom'),
               workers=1, extra_global='interval = 1h\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        t.ok(wait_until(lambda: d.ncrawls() >= 1, 30), 'keytab: crawled',
             diag=d.log())
        rows = d.crawls()
        t.eq([(r[1], r[4], r[6], r[7]) for r in rows],
             [(dc_loc(), 'ok', 'KRBNET', 'KRBPO')],
             'keytab: the crawl of the DC is ok and finds its postoffice',
             diag='%r\n%s' % (rows, d.log()))
        t.like(d.log(), r'credentials dom: Kerberos ticket from ',
               'keytab: the parent got the ticket (logged)')
        t.ok(PASSWORD not in d.log(), 'keytab: no password in the log')
        # A reload, as nobody, cannot read the root-only keytab: it keeps
        # the keys (and the tickets) read at start.
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: 'keeping the keys read at start' in d.log()
                        and 'configuration reloaded' in d.log(), 15),
             'keytab: a reload keeps the keys of the root-only keytab',
             diag=d.log())
        d.control('crawl')
        t.ok(wait_until(lambda: d.count(outcome='ok') >= 2, 30),
             'keytab: crawls after the reload are ok', diag=d.log())
        t.eq(d.log().count('Kerberos ticket from'), 1, 'keytab: the reload '
             'kept the tickets (no new request to the KDC)', diag=d.log())
        t.eq(d.stop(), 0, 'keytab: SIGTERM, exit 0', diag=d.log()[-4000:])
        t.ok(not [p for p in os.listdir('/tmp') if p.startswith(
             'maildatd.%d.' % d.pid)], 'keytab: the run directory and its '
             'ticket cache are gone after the stop')
    finally:
        d.stop()


def case_wrong_keytab(env):
    dc, work = env['dc'], env['work']
    d = Daemon(work, 'wrongkt',
               '[credentials stale]\nkerberos = required\nkeytab = %s\n'
               % env['stale_keytab'] +
               target('dc', dc_url(), credentials='stale'),
               workers=1, extra_global='interval = 1s\nbackoff_max = 1s\n'
                                       'lockout_after = 0\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        t.ok(wait_until(lambda: d.count(outcome='auth-failed') >= 3, 20),
             'wrong keytab: crawls are auth-failed', diag=d.log())
        rows = d.crawls()
        err = rows[0][5] if rows else ''
        t.like(err, r'^Kerberos: cannot get a ticket for its first principal '
               r'with the keytab .*stale\.keytab: ',
               'wrong keytab: the error says why there is no ticket',
               diag=repr(rows[:2]))
        t.like(err, r'(?i)preauthentication failed|password incorrect|'
               r'decrypt integrity', 'wrong keytab: with the KDC\'s words',
               diag=err)
        n = d.log().count('cannot get a ticket')
        t.eq(n, 1, 'wrong keytab: the KDC was asked once, not at each of '
             'the %d crawls' % len(rows), diag=d.log())
    finally:
        d.stop()


def case_lockout(env):
    dc, work = env['dc'], env['work']
    d = Daemon(work, 'krblockout',
               '[credentials stale]\nkerberos = required\nkeytab = %s\n'
               % env['stale_keytab'] +
               target('dc', dc_url(), credentials='stale'),
               workers=1, extra_global='interval = 1s\nbackoff_max = 1s\n'
                                       'lockout_after = 2\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        msg = ('refused 2 times in a row (refused by %s): suspended, so '
               'that the account is not locked out' % DCNAME)
        t.ok(wait_until(lambda: msg in d.log(), 20),
             'lockout: the guard suspends the Kerberos credentials',
             diag=d.log())
        time.sleep(3)
        t.eq(d.count(outcome='auth-failed'), 2, 'lockout: no crawl after '
             'the second Kerberos failure', diag=d.log())
        st = d.status() or {}
        try:
            sp = json.loads(st.get('suspended_credentials', ''))
        except ValueError:
            sp = None
        t.ok(isinstance(sp, list) and len(sp) == 1 and
             sp[0].get('name') == 'stale' and sp[0].get('hosts') == DCNAME,
             'lockout: status lists them', diag=repr(st))
    finally:
        d.stop()


def case_ccache(env):
    dc, work = env['dc'], env['work']
    cc = os.path.join(work, 'admin.ccache')
    kenv = dict(os.environ, KRB5_CONFIG=dc.krb5conf)
    r = harness.run(['kinit', '-k', '-t', env['keytab'], '-c', 'FILE:' + cc,
                     '%s@%s' % (USER, REALM)], env=kenv, timeout=60)
    t.eq(r.returncode, 0, 'ccache: kinit -k', diag=str(r))
    r = harness.run([harness.tool('maildatctl'), 'scan', '--format', 'json',
                     '--kerberos', 'required', '--ccache', cc, dc_url()],
                    env=dict(os.environ, **client_env(dc)), timeout=60)
    t.ok(r.returncode == 0 and '"outcome": "ok"' in r.stdout,
         'ccache: maildatctl scan --kerberos required --ccache: ok',
         diag=str(r))
    # The daemon's workers run as nobody: the cache must be theirs.
    nobody = pwd.getpwnam('nobody')
    os.chown(cc, nobody.pw_uid, nobody.pw_gid)
    r = harness.run([harness.tool('maildatctl'), 'scan', '--kerberos',
                     'required', '--ccache', cc, dc_url()],
                    env=dict(os.environ, **client_env(dc)), timeout=60)
    t.like(r.stdout, r'auth-failed.*logon failed: Kerberos: no ticket could '
           r'be used', 'ccache: a cache of another user: auth-failed, '
           'saying why', diag=str(r))
    d = Daemon(work, 'ccache',
               '[credentials cc]\nkerberos = required\nccache = %s\n'
               'principal = %s@%s\n' % (cc, USER, REALM) +
               target('dc', dc_url(), credentials='cc'),
               workers=1, extra_global='interval = 1h\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        t.ok(wait_until(lambda: d.ncrawls() >= 1, 30), 'ccache: crawled',
             diag=d.log())
        t.eq([(r[1], r[4]) for r in d.crawls()], [(dc_loc(), 'ok')],
             'ccache: the daemon logs on with the tickets of ccache =',
             diag=d.log())
    finally:
        d.stop()


def case_reload_own_keytab(env):
    """A keytab owned by the daemon's user is read again at a reload."""
    dc, work = env['dc'], env['work']
    kt = os.path.join(work, 'own.keytab')
    shutil.copy(env['keytab'], kt)
    nobody = pwd.getpwnam('nobody')
    os.chown(kt, nobody.pw_uid, nobody.pw_gid)
    os.chmod(kt, 0o600)
    d = Daemon(work, 'ownkt',
               '[credentials dom]\nkerberos = required\nkeytab = %s\n' % kt +
               target('dc', dc_url(), credentials='dom'),
               workers=1, extra_global='interval = 1h\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        t.ok(wait_until(lambda: d.count(outcome='ok') >= 1, 30),
             'own keytab: crawled ok', diag=d.log())
        d.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: 'configuration reloaded' in d.log(), 15),
             'own keytab: reloaded', diag=d.log())
        t.eq(d.log().count('Kerberos ticket from'), 2, 'own keytab: the '
             'reload read the keytab again and got new tickets',
             diag=d.log())
        d.control('crawl')
        t.ok(wait_until(lambda: d.count(outcome='ok') >= 2, 30),
             'own keytab: crawls after the reload are ok', diag=d.log())
    finally:
        d.stop()


def case_fallback(env):
    dc, work = env['dc'], env['work']
    auth = os.path.join(work, 'both.auth')
    harness.write_auth(auth, USER, PASSWORD)
    nt4 = env['nt4']
    d = Daemon(work, 'fallback',
               '[credentials dom]\nkerberos = yes\nkeytab = %s\n'
               'auth_file = %s\n' % (env['keytab'], auth) +
               target('dc', dc_url(), credentials='dom') +
               target('nt4', nt4.url('priv'), credentials='dom',
                      protocol='NT1 NT1'),
               workers=1, extra_global='interval = 1h\ntimeout = 20s\n')
    try:
        d.start(env=client_env(dc))
        t.ok(wait_until(lambda: d.ncrawls() >= 2, 40),
             'fallback: both crawled', diag=d.log())
        got = sorted((r[1], r[4]) for r in d.crawls())
        t.eq(got, sorted([(dc_loc(), 'ok'),
                          (harness.loc(nt4.port, 'priv', 'MAILDATA'), 'ok')]),
             'fallback: Kerberos on the DC (which refuses NTLM), NTLM on '
             'the NT1-only server', diag=d.log())
    finally:
        d.stop()


def main():
    with harness.suite(t, None) as work:
        check_environment()
        dc = DC(work)
        try:
            dc.add_alias()
            dc.provision()
            os.makedirs(dc.share)
            harness.mkpo('-N', 'KRBNET', '-P', 'KRBPO',
                         os.path.join(dc.share, 'MAILDATA'))
            harness.make_readable(dc.share)
            dc.add_user(USER, PASSWORD)
            dc.add_user(STALE, PASSWORD)
            keytab = os.path.join(work, 'monitor.keytab')
            stale = os.path.join(work, 'stale.keytab')
            dc.export_keytab(USER, keytab)
            dc.export_keytab(STALE, stale)
            # The key in stale.keytab is the old one from now on.
            dc.tool('user', 'setpassword', STALE,
                    '--newpassword=N3w-' + PASSWORD)
            dc.start()
            po = os.path.join(work, 'nt4po')
            harness.mkpo('-N', 'OLDNET', '-P', 'NT4PO',
                         os.path.join(po, 'MAILDATA'))
            harness.make_readable(po)
            with harness.Samba(work, shares={'priv': po},
                               users={USER: PASSWORD},
                               share_options={'priv': {
                                   'valid users': USER,
                                   'guest ok': 'no'}},
                               global_options={
                                   'server max protocol': 'NT1'}) as nt4, \
                    harness.SyslogReceiver(work) as slog:
                Daemon.syslog = 'unix:' + slog.path
                env = {'work': work, 'dc': dc, 'keytab': keytab,
                       'stale_keytab': stale, 'nt4': nt4}
                harness.run_cases(t, [
                    ('keytab', case_keytab),
                    ('wrong keytab', case_wrong_keytab),
                    ('lockout', case_lockout),
                    ('ccache', case_ccache),
                    ('reload own keytab', case_reload_own_keytab),
                    ('fallback', case_fallback),
                ], env, only_env='MAILDAT_KERBEROS_CASES')
        finally:
            harness.stop_all_daemons()
            dc.stop()
            dc.remove_alias()


if __name__ == '__main__':
    main()
