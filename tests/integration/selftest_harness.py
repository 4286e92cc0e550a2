#!/usr/bin/env python3
"""Self-test for harness.py (run by hand; not part of `make check`).

    python3 tests/integration/selftest_harness.py

Starts two private Samba instances at once and checks them with the
smbclient CLI (guest and password access, SMB1, share listing through
samba-dcerpcd), stop/restart, and that no process of either smb.conf
survives.  Child runs of this script check cleanup when the test
process raises inside the with-block, gets SIGTERM, or gets SIGKILLed.
A maildatd Daemon is started, asked for its status and stopped, and
stop_all_daemons() and a SIGKILLed test process must leave none of it
(nor its workers) behind.  Prints TAP.  Needs root (useradd, smbd) and
a build (MAILDAT_BUILDDIR).

Child modes (used by the main run, also handy by hand):
    --child-raise     start Samba, raise inside the with-block
    --child-wait      start Samba, print 'READY <conf> <smbd pid>', sleep
    --child-daemon    start Samba and a Daemon, print 'READY <conf>
                      <daemon pid> <worker pids>', sleep
    --child-smbc URL  list URL with libsmbclient (ctypes), print names
"""

import ctypes
import io
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness                                          # noqa: E402

USER, PASSWORD = 'mdtest1', 'secret'


def conf_processes(conf):
    """Lines of `ps -eo pid,args` that mention CONF."""
    out = subprocess.run(['ps', '-eo', 'pid,args'], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if conf in line]


def wait_gone(conf, timeout):
    """Poll until no process mentions CONF; return what is left."""
    deadline = time.monotonic() + timeout
    left = conf_processes(conf)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = conf_processes(conf)
    return left


def pid_alive(pid):
    """True if PID exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in 'ZX'
    except OSError:
        return False


def port_refuses(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def make_tree(work):
    """A public and a private share directory with a file each."""
    pub = os.path.join(work, 'pub')
    priv = os.path.join(work, 'priv')
    for d, name in ((pub, 'hello.txt'), (priv, 'secret.txt')):
        os.mkdir(d)
        os.chmod(d, 0o755)
        with open(os.path.join(d, name), 'w') as f:
            f.write('%s\n' % name)
    return pub, priv


def smbclient(smb, share, *auth, cmd='ls', protocol='NT1'):
    """The smbclient CLI, spelled out as a test would."""
    argv = ['smbclient', '//127.0.0.1/%s' % share, '-p', str(smb.port)]
    argv += list(auth) or ['-N']
    if protocol:
        # smbclient 4.17 defaults to 'client min protocol = SMB2_02' and
        # rejects '-m NT1' alone (NT_STATUS_INVALID_PARAMETER_MIX).
        argv += ['-m', protocol,
                 '--option=client min protocol=%s' % protocol]
    argv += ['-c', cmd]
    return harness.run(argv, timeout=60)


def start_child(mode, work, env=None):
    """Start this script in MODE; return (Popen, conf, smbd_pid) once it
    printed READY (or its output if it never did)."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                             mode, work], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True,
                            env=dict(os.environ, **(env or {})))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
            if line.startswith('READY '):
                _, conf, pid = line.split()
                return proc, conf, int(pid)
            if not line:
                break
    proc.kill()
    out, err = proc.communicate()
    raise harness.HarnessError('child %s never got ready:\n%s%s'
                               % (mode, out, err))


# ---------------------------------------------------------------------------
# Child modes
# ---------------------------------------------------------------------------

def child_raise(work):
    pub, _ = make_tree(harness.make_workdir(base=work))
    with harness.Samba(work, shares={'pub': pub}) as smb:
        smb.smbclient(None)             # get samba-dcerpcd going too
        print('READY %s %d' % (smb.conf, smb.proc.pid), flush=True)
        raise RuntimeError('deliberate failure inside the with-block')


def child_wait(work):
    pub, _ = make_tree(harness.make_workdir(base=work))
    with harness.Samba(work, shares={'pub': pub}) as smb:
        smb.smbclient(None)             # get samba-dcerpcd going too
        print('READY %s %d' % (smb.conf, smb.proc.pid), flush=True)
        time.sleep(300)


def daemon_fixture(work, name):
    """A Samba serving one postoffice and a Daemon (2 workers) crawling
    it every second: (Samba, Daemon), neither started."""
    po = os.path.join(harness.make_workdir(base=work), 'po')
    harness.mkpo('-N', 'SELF', '-P', 'TEST', po)
    harness.make_readable(po)
    smb = harness.Samba(work, shares={'MAILDAT$': po})
    smb.start()
    d = harness.Daemon(work, name, harness.target('a', smb.url('MAILDAT$')),
                       extra_global='interval = 1s\ntimeout = 5s\n')
    return smb, d


def child_daemon(work):
    smb, d = daemon_fixture(work, 'child')
    with smb:
        d.start()
        workers = harness.wait_until(
            lambda: len(d.worker_pids()) == 2 and d.worker_pids(), 10)
        print('READY %s %d %s' % (smb.conf, d.pid,
                                  ' '.join(map(str, workers or []))),
              flush=True)
        time.sleep(300)


def child_smbc(url):
    """List URL with libsmbclient's smbc_opendir/smbc_readdir."""
    lib = ctypes.CDLL('libsmbclient.so.0')
    auth_fn = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_char_p, ctypes.c_int,
                               ctypes.c_char_p, ctypes.c_int,
                               ctypes.c_char_p, ctypes.c_int)

    class Dirent(ctypes.Structure):
        _fields_ = [('smbc_type', ctypes.c_uint), ('dirlen', ctypes.c_uint),
                    ('commentlen', ctypes.c_uint),
                    ('comment', ctypes.c_char_p),
                    ('namelen', ctypes.c_uint), ('name', ctypes.c_char * 1)]

    cb = auth_fn(lambda *args: None)    # anonymous/guest
    if lib.smbc_init(cb, 0) != 0:
        sys.exit('smbc_init failed')
    lib.smbc_opendir.argtypes = [ctypes.c_char_p]
    lib.smbc_readdir.restype = ctypes.POINTER(Dirent)
    dh = lib.smbc_opendir(url.encode())
    if dh < 0:
        sys.exit('smbc_opendir(%s) failed: errno %d'
                 % (url, ctypes.get_errno()))
    while True:
        ent = lib.smbc_readdir(dh)
        if not ent:
            break
        name = ctypes.string_at(ctypes.addressof(ent.contents) +
                                Dirent.name.offset)
        print('%d %s' % (ent.contents.smbc_type, name.decode()))


# ---------------------------------------------------------------------------
# Main test run
# ---------------------------------------------------------------------------

def test_two_instances(t, work):
    pub, priv = make_tree(work)
    confs = []
    with harness.Samba(
            work, shares={'MAILDAT$': pub, 'priv': priv},
            users={USER: PASSWORD},
            share_options={'priv': {'valid users': USER,
                                    'guest ok': 'no'}}) as a, \
            harness.Samba(work, shares={'mail': pub},
                          min_protocol=None) as b:
        confs = [a.conf, b.conf]
        t.ok(a.running and b.running, 'two instances run at once')
        t.ok(a.port != b.port, 'distinct ports %d %d' % (a.port, b.port))
        t.eq(a.url('MAILDAT$'), 'smb://127.0.0.1:%d/MAILDAT$' % a.port,
             'url()')

        res = smbclient(a, 'MAILDAT$')
        t.ok(res.returncode == 0 and 'hello.txt' in res.stdout,
             'guest NT1 ls on MAILDAT$ lists the file', diag=res)
        res = harness.run(['smbclient', '//127.0.0.1/MAILDAT$', '-p',
                           str(a.port), '-N', '-m', 'NT1', '--option='
                           'client min protocol=NT1', '-d', '10', '-c',
                           'ls'])
        t.ok('negotiated dialect[NT1]' in res.stdout + res.stderr,
             'SMB1 (NT1) dialect really negotiated',
             diag=lambda: res.stdout[-2000:])
        res = smbclient(b, 'mail', protocol=None)
        t.ok(res.returncode == 0 and 'hello.txt' in res.stdout,
             'guest SMB2+ ls on the second instance', diag=res)
        res = smbclient(b, 'mail')
        t.ok(res.returncode != 0 and 'PARAMETER_MIX' not in res.stdout,
             'server refuses NT1 when min_protocol=None (default SMB2_02)',
             diag=res)

        res = smbclient(a, 'priv', '-U', '%s%%%s' % (USER, PASSWORD))
        t.ok(res.returncode == 0 and 'secret.txt' in res.stdout,
             'password user lists the private share', diag=res)
        res = smbclient(a, 'priv', '-U', '%s%%wrong' % USER)
        t.ok(res.returncode != 0 and 'NT_STATUS_LOGON_FAILURE'
             in res.stdout + res.stderr, 'wrong password: LOGON_FAILURE',
             diag=res)
        res = smbclient(a, 'priv')
        t.ok(res.returncode != 0, 'guest refused on the private share',
             diag=res)

        res = harness.run(['smbclient', '-L', '127.0.0.1', '-p',
                           str(a.port), '-N'])
        t.ok(res.returncode == 0 and 'MAILDAT$' in res.stdout
             and 'priv' in res.stdout, 'smbclient -L lists the shares',
             diag=res)
        helpers = [p for p in a.processes()
                   if os.path.basename(p.args[0]) == 'samba-dcerpcd']
        t.ok(helpers and all('--configfile=' + a.conf in p.args
                             for p in helpers),
             'samba-dcerpcd started with the private smb.conf',
             diag=repr(a.processes()))
        t.ok(os.listdir(os.path.join(a.state, 'ncalrpc')),
             'helper sockets live in the private ncalrpc dir')

        res = harness.run([sys.executable, os.path.abspath(__file__),
                           '--child-smbc', a.url()], timeout=60)
        t.ok(res.returncode == 0 and 'MAILDAT$' in res.stdout,
             'libsmbclient smbc_opendir(%s) lists shares' % a.url(),
             diag=res)

        port = a.port
        a.stop()
        t.ok(port_refuses(port), 'stop(): port refuses connections')
        t.eq(conf_processes(a.conf), [], 'stop(): nothing of instance A '
             'left (incl. samba-dcerpcd)')
        t.ok(b.running and smbclient(b, 'mail', protocol=None)[0] == 0,
             'instance B unaffected by stopping A')
        a.start()
        t.eq(a.port, port, 'start() again reuses the port')
        res = smbclient(a, 'priv', '-U', '%s%%%s' % (USER, PASSWORD))
        t.ok(res.returncode == 0, 'restarted: password user still works',
             diag=res)
        t.like(a.log(), 'smbd version', 'log() has smbd output')
    for conf in confs:
        t.eq(wait_gone(conf, 0), [], 'after with: no process of %s'
             % os.path.basename(os.path.dirname(conf)))


def test_child_raise(t, work):
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                             '--child-raise', work], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate(timeout=120)
    t.ok(proc.returncode != 0 and 'deliberate failure' in err,
         'child raising inside the with-block fails', diag=out + err)
    conf = out.split()[1] if out.startswith('READY') else None
    t.ok(conf and wait_gone(conf, 0) == [],
         'exception in with-block: everything stopped',
         diag=lambda: conf_processes(conf) if conf else out)


def test_child_signal(t, work, sig):
    name = signal.Signals(sig).name
    proc, conf, smbd_pid = start_child('--child-wait', work)
    t.ok(len(conf_processes(conf)) >= 3,
         '%s child: smbd and samba-dcerpcd running' % name,
         diag=lambda: conf_processes(conf))
    os.kill(proc.pid, sig)
    proc.wait(30)
    if sig == signal.SIGKILL:
        time.sleep(0.5)
        t.ok(not pid_alive(smbd_pid),
             'SIGKILL: smbd main process died (PR_SET_PDEATHSIG)')
    left = wait_gone(conf, 10)
    t.eq(left, [], '%s of the test process: no process of its smb.conf '
         'left' % name)


def test_sigkill_layers(t, work):
    """SIGKILL with the watchdog disabled: PR_SET_PDEATHSIG alone kills
    smbd (and smbd's children follow), samba-dcerpcd survives, and the
    next harness user's reap_orphans() kills it."""
    proc, conf, smbd_pid = start_child('--child-wait', work,
                                       {'MAILDAT_HARNESS_WATCHDOG': '0'})
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    time.sleep(1)
    t.ok(not pid_alive(smbd_pid), 'no watchdog: PDEATHSIG killed smbd')
    left = conf_processes(conf)
    t.ok(all('smbd ' not in line for line in left),
         'no watchdog: no smbd process left', diag=left)
    t.diag('left behind without the watchdog:\n' + '\n'.join(left))
    reaped = harness.reap_orphans()
    t.eq(wait_gone(conf, 5), [], 'reap_orphans() removed the leftovers '
         '(%d processes)' % len(reaped))


def test_daemon(t, work):
    smb, d = daemon_fixture(work, 'selftest')
    with smb:
        d.start()
        t.ok(d.running() and 'maildatd: started:' in d.log(),
             'Daemon: started (logged "maildatd: started:")', diag=d.log())
        st = d.status() or {}
        t.eq((st.get('pid'), st.get('workers')), (str(d.pid), '2'),
             'Daemon.status() over the control socket: pid, workers',
             diag=repr(st))
        t.ok(harness.wait_until(lambda: d.count(harness.loc(
            smb.port, 'MAILDAT$'), 'ok') >= 1, 10),
             'Daemon.count(): the postoffice crawled ok', diag=d.log)
        res = d.ctl('status')
        t.ok(res.returncode == 0 and 'pid: %d' % d.pid in res.stdout,
             'Daemon.ctl(): maildatctl status', diag=res)
        sb = os.stat(d.dir)
        t.eq((sb.st_uid, d.conf, os.path.dirname(d.db)),
             (pwd.getpwnam('nobody').pw_uid,
              os.path.join(work, 'selftest.conf'), d.dir),
             'Daemon: its directory is nobody\'s and holds the database')
        workers = d.worker_pids()
        t.ok(len(workers) == 2 and set(workers) <= set(
            harness.our_workers()), 'worker_pids(), our_workers(): 2 '
             'workers carrying our marker', diag=repr(workers))
        t.eq(d.stop(), 0, 'Daemon.stop(): SIGTERM, exit 0', diag=d.log)
        t.ok(harness.wait_until(lambda: not [p for p in workers
                                             if harness.alive(p)], 5),
             'Daemon.stop(): the workers exit with it')
        t.eq(d.integrity(), [('ok',)], 'Daemon.integrity()')
        # stop_all_daemons(): the registry kills what is still running.
        d.start()
        workers = harness.wait_until(
            lambda: len(d.worker_pids()) == 2 and d.worker_pids(), 10)
        harness.stop_all_daemons()
        t.ok(not d.running() and d in harness.daemons(),
             'stop_all_daemons() kills a registered Daemon')
        t.ok(workers and not [p for p in workers if harness.alive(p)] and
             not harness.our_workers(),
             'stop_all_daemons(): and its workers', diag=repr(workers))
    remove_run_dirs(d.pids)


def remove_run_dirs(pids):
    """Remove the run directories of the SIGKILLed daemons PIDS (they
    cannot remove their own)."""
    for path in harness.run_dirs(pwd.getpwnam('nobody').pw_uid):
        if path.startswith(tuple('/tmp/maildatd.%d.' % p for p in pids)):
            shutil.rmtree(path, ignore_errors=True)


def test_child_daemon_sigkill(t, work):
    """The test process SIGKILLed while a daemon runs: the daemon dies
    (PR_SET_PDEATHSIG), its workers with it."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                             '--child-daemon', work], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ''
    pids = [int(p) for p in line.split()[2:]]
    t.ok(line.startswith('READY ') and len(pids) == 3,
         'SIGKILL with a daemon: child started a daemon and 2 workers',
         diag=line)
    proc.kill()
    proc.communicate(timeout=30)
    left = harness.wait_until(
        lambda: not [p for p in pids if pid_alive(p)], 10)
    t.ok(pids and left, 'SIGKILL of the test process: neither the daemon '
         'nor its workers are left', diag=repr([p for p in pids
                                                if pid_alive(p)]))
    if line.startswith('READY '):
        t.eq(wait_gone(line.split()[1], 10), [], 'SIGKILL with a daemon: '
             'no process of its smb.conf left')
    remove_run_dirs(pids[:1])


def test_helpers(t, work):
    start = time.monotonic()
    res = harness.run(['sleep', '30'], timeout=1)
    t.ok(res.timed_out and res.returncode == -9
         and time.monotonic() - start < 10, 'run(): hard timeout kills',
         diag=repr(res))
    rc, out, err = harness.run(['sh', '-c', 'echo $X; echo e >&2'],
                               env={'X': 'y'})
    t.eq((rc, out, err), (0, 'y\n', 'e\n'), 'run(): env, stdout, stderr')

    port = harness.free_port()
    t.ok(port_refuses(port), 'free_port(): connection refused')

    with harness.HungServer() as hung:
        s = socket.create_connection(('127.0.0.1', hung.port), timeout=1)
        try:
            s.recv(1)
            silent = False
        except socket.timeout:
            silent = True
        s.close()
        t.ok(silent, 'HungServer accepts and never answers')
        t.eq(hung.url('X'), 'smb://127.0.0.1:%d/X' % hung.port,
             'HungServer.url()')

    def echo(conn, srv):
        srv.notes.append(conn.recv(100))
        conn.sendall(b'echo ' + srv.notes[-1])
    with harness.TcpServer(echo, 'Echo') as fake:
        with socket.create_connection(('127.0.0.1', fake.port), 2) as s:
            s.sendall(b'hi')
            s.settimeout(2)
            answer = s.recv(100)
        t.eq((answer, fake.notes, fake.connections), (b'echo hi', [b'hi'], 1),
             'TcpServer runs the handler for a connection')
    t.eq(harness.loc(445, 'S$', 'a/b'), '\\\\127.0.0.1@445\\S$\\a\\b',
         'loc()')
    t.eq(harness.target('a', 'smb://h/s', timeout='3s'),
         '[target a]\nurl = smb://h/s\ntimeout = 3s\n', 'target()')
    n = []
    t.eq(harness.wait_until(lambda: n.append(1) or len(n) >= 3, 5, 0.01), True,
         'wait_until(): until true')
    t.eq(harness.wait_until(lambda: 0, 0.2, 0.05), 0,
         'wait_until(): the false value after the timeout')

    with harness.SyslogReceiver(work, udp=True) as slog:
        harness.run(['logger', '-u', slog.path, 'hello-unix'])
        harness.run(['logger', '-d', '-n', '127.0.0.1', '-P',
                     str(slog.udp_port), 'hello-udp'])
        t.ok(slog.wait_for('hello-unix', 5), 'SyslogReceiver: unix socket',
             diag=slog.messages)
        t.ok(slog.wait_for(lambda m: 'hello-udp' in m, 5),
             'SyslogReceiver: UDP', diag=slog.messages)


def test_tap(t):
    buf = io.StringIO()
    inner = harness.Tap(out=buf)
    inner.ok(True, 'a')
    inner.eq(1, 2, 'b')
    inner.run(lambda: 1 / 0, 'c')
    inner.run(lambda: None, 'd')
    inner.skip('e', 'why')
    inner.done()
    lines = [ln for ln in buf.getvalue().splitlines()
             if not ln.startswith('#')]
    t.eq(lines, ['ok 1 - a', 'not ok 2 - b', 'not ok 3 - c raised',
                 'ok 4 - d', 'ok 5 - e # SKIP why', '1..5'],
         'Tap output', diag=buf.getvalue())
    t.ok('ZeroDivisionError' in buf.getvalue(), 'Tap.run(): traceback')


def main():
    t = harness.Tap()
    if os.geteuid() != 0:
        t.skip_all('needs root (useradd, smbd)')
    if not shutil.which('smbclient'):
        t.skip_all('smbclient not installed')
    work = harness.make_workdir()
    try:
        t.run(test_two_instances, 'two instances', t, work)
        t.run(test_child_raise, 'cleanup on exception', t, work)
        t.run(test_child_signal, 'cleanup on SIGTERM', t, work,
              signal.SIGTERM)
        t.run(test_child_signal, 'cleanup on SIGINT', t, work,
              signal.SIGINT)
        t.run(test_child_signal, 'cleanup on SIGKILL', t, work,
              signal.SIGKILL)
        t.run(test_sigkill_layers, 'SIGKILL without watchdog', t, work)
        t.run(test_helpers, 'helpers', t, work)
        t.run(test_daemon, 'Daemon', t, work)
        t.run(test_child_daemon_sigkill, 'SIGKILL with a daemon', t, work)
        t.run(test_tap, 'tap', t)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == '__main__':
    if len(sys.argv) > 2 and sys.argv[1] == '--child-raise':
        child_raise(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == '--child-wait':
        child_wait(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == '--child-daemon':
        child_daemon(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == '--child-smbc':
        child_smbc(sys.argv[2])
    else:
        main()
