"""Integration-test harness for maildatd (Python 3 standard library only).

The integration tests run the project's tools against a *private* Samba
``smbd`` listening on 127.0.0.1.  This module provides:

``Samba``           context manager: private smb.conf, state dirs, passdb
                    users, start/stop/restart of smbd on a loopback port.
``Tap``             minimal TAP producer for automake's tap-driver.sh
                    (``TapRunner`` is an alias).
``run()``           run a command with a hard timeout, return
                    ``(returncode, stdout, stderr)``.
``srcdir()``, ``builddir()``, ``tool()``
                    locate the source tree and the built binaries.
``TcpServer``       a loopback TCP listener running a handler of the
                    test's for each connection (fake servers).
``HungServer``      a loopback TCP listener that never answers.
``free_port()``     a loopback port where nothing listens.
``SyslogReceiver``  collects syslog datagrams (unix socket and/or UDP).
``make_workdir()``  creates a traversable temporary work directory.
``SkipTest``        raised when the environment cannot run a test.
``Daemon``          one maildatd in the foreground (``-d``), as root
                    dropping to a user, with its own directory (database,
                    control socket), configuration and log; status over
                    the control socket.  ``stop_all_daemons()`` kills
                    every one started, and their workers.
``suite()``, ``run_cases()``
                    the frame of a suite's main() (root check, work
                    directory, cleanup, plan) and its list of cases.
``mkpo()``, ``make_readable()``, ``write_auth()``, ``target()``,
``loc()``, ``wait_until()``
                    fixtures: postoffices (mkpostoffice), auth files,
                    [target] sections, the store's location strings.
``worker_pids()``, ``our_workers()``, ``proc_stat()``, ``proc_args()``,
``proc_status()``, ``alive()``, ``kill_pids()``, ``run_dirs()``
                    what /proc and /tmp say about daemons and workers.

Typical test::

    import harness
    t = harness.Tap()
    work = harness.make_workdir()          # mkdtemp + chmod 0755
    share = os.path.join(work, 'share')
    os.mkdir(share, 0o755)
    try:
        with harness.Samba(work, shares={'MAILDAT$': share}) as smb:
            rc, out, err = harness.run([harness.tool('maildatctl'), ...,
                                        smb.url('MAILDAT$')])
            t.eq(rc, 0, 'maildatctl succeeds', diag=err)
    except harness.SkipTest as e:
        t.skip_all(str(e))
    t.done()

A daemon test (``suite()`` skips unless root, makes the work directory,
and kills every Daemon at the end, also on failure)::

    with harness.suite(t, 'needs root (smbd, privilege drop)') as work:
        po = os.path.join(work, 'po')
        harness.mkpo('-N', 'CORP', '-P', 'HQ', po)
        harness.make_readable(po)
        with harness.Samba(work, shares={'MAILDAT$': po}) as smb:
            d = harness.Daemon(work, 'once',
                               harness.target('a', smb.url('MAILDAT$')),
                               extra_global='timeout = 5s\n')
            try:
                d.start('--once', wait_started=False)
                t.eq(d.wait(30), 0, '--once: exit 0', diag=d.log())
                t.eq(d.count(outcome='ok'), 1, 'one crawl, ok')
            finally:
                d.stop()

A suite adds what only it needs as a subclass of Daemon (t_faults.py:
the totals it checks; t_rules.py: (name, URL) targets, [rule] sections,
--once runs) or as functions of its own.

Directory permissions
---------------------
smbd serves guest shares as the Unix account ``nobody`` and password
shares as the mapped Unix user, so every share directory must be
readable (r+x) and every ancestor directory traversable (x) by "other".
``tempfile.mkdtemp()`` creates mode 0700 directories: create work
directories with ``make_workdir()`` or with
``tempfile.mkdtemp(prefix='maildat-test-')`` followed by
``os.chmod(path, 0o755)``.  Directories the harness creates itself are
made 0755.  ``Samba`` prints a '# warning' to stderr when a share is not
accessible to "other" (some tests do that on purpose).

Cleanup
-------
Every process the harness starts carries the environment variable
``MAILDAT_HARNESS_OWNER`` (identifies the Python test process) and smbd
and its helpers also ``MAILDAT_HARNESS_INSTANCE`` (identifies one
``Samba`` object).  Samba does not scrub its environment when smbd
launches ``samba-dcerpcd`` and the ``rpcd_*`` workers, so these markers
find every helper even if it left smbd's process group.  Live instances
are stopped by ``with``-exit, by ``atexit`` and by SIGTERM/SIGINT/SIGHUP
handlers.  If the test process is SIGKILLed, smbd dies through
``PR_SET_PDEATHSIG`` and a small watchdog process (started on first use,
it waits for EOF on a pipe from the test process) kills whatever else
carries the owner marker (set MAILDAT_HARNESS_WATCHDOG=0 to disable it).
As a last resort every ``Samba.start()`` kills marked processes whose
owner test process no longer exists (``reap_orphans()``).

A ``Daemon`` carries the owner marker too, and so do its crawl workers
(they inherit its environment).  The daemon dies with the test process
(``PR_SET_PDEATHSIG``), its workers with the daemon (maildatd sets
PR_SET_PDEATHSIG for them).  Every Daemon started is in one registry:
``stop_all_daemons()`` (between cases, at the end of ``suite()``, and
from ``stop_all()``, i.e. at exit and on SIGTERM/SIGINT/SIGHUP) SIGKILLs
each and its workers, then any ``maildatd --worker`` with our marker.

Samba 4.17 notes: smbd launches samba-dcerpcd on demand (share listing,
srvsvc) with ``--configfile=<our smb.conf>``; samba-dcerpcd daemonizes
into its own session (parent: init) and its ``rpcd_*`` workers follow it.
Neither exits when smbd is stopped or killed, so killing smbd's process
group is not enough -- the harness finds them by the markers above.  When
a test is SIGKILLed, smbd's own children die with the main smbd.  smbd
PANICs (and would dump core) when it cannot bind its port; the harness
runs it with RLIMIT_CORE 0 and retries on another port.  smbclient 4.17
rejects ``-m NT1`` alone (client min protocol defaults to SMB2_02): add
``--option='client min protocol=NT1'``.  Samba's processes may briefly
show as zombies after a stop until init reaps them.
"""

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import pwd
import random
import re
import resource
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
import urllib.parse

__all__ = [
    'SkipTest', 'HarnessError', 'Samba', 'Tap', 'TapRunner', 'run',
    'Result', 'srcdir', 'builddir', 'tool', 'HungServer', 'free_port',
    'SyslogReceiver', 'make_workdir', 'stop_all', 'reap_orphans',
    'marked_processes', 'TcpServer', 'Daemon', 'daemons',
    'stop_all_daemons', 'wait_until', 'loc', 'target', 'mkpo',
    'make_readable', 'write_auth', 'is_asan', 'proc_stat', 'proc_args',
    'proc_status', 'vmrss_kib', 'alive', 'is_worker_args', 'worker_pids',
    'our_workers', 'kill_pids', 'run_dirs', 'suite', 'run_cases',
]

LOOPBACK = '127.0.0.1'
ENV_OWNER = 'MAILDAT_HARNESS_OWNER'
ENV_INSTANCE = 'MAILDAT_HARNESS_INSTANCE'


class SkipTest(unittest.SkipTest):
    """The environment cannot run this test (no smbd, not root, ...)."""


class HarnessError(RuntimeError):
    """The harness could not set up or tear down a fixture."""


def _warn(msg):
    """Print a diagnostic to stderr in TAP comment form."""
    for line in str(msg).splitlines() or ['']:
        sys.stderr.write('# warning: %s\n' % line)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------

def srcdir():
    """Top of the source tree: $MAILDAT_SRCDIR or two levels above here."""
    env = os.environ.get('MAILDAT_SRCDIR')
    if env:
        return os.path.abspath(env)
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(os.path.join(here, os.pardir, os.pardir))


def builddir():
    """Top of the build tree: $MAILDAT_BUILDDIR, else the source tree
    (in-tree build)."""
    env = os.environ.get('MAILDAT_BUILDDIR')
    if env:
        return os.path.abspath(env)
    return srcdir()


def tool(name):
    """Absolute path of the built program NAME ('maildatd', 'maildatctl',
    'mkpostoffice', ...) in the build tree.  Raises FileNotFoundError
    with a hint if it has not been built."""
    top = builddir()
    for sub in ('', 'daemon', 'ctl', 'tests/fixture'):
        path = os.path.join(top, sub, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        '%s not built in %s (run make, or set MAILDAT_BUILDDIR)'
        % (name, top))


def make_workdir(prefix='maildat-test-', base=None):
    """Create a temporary work directory that smbd's guest account can
    traverse (mkdtemp makes 0700; this chmods it to 0755)."""
    path = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------------------
# Process plumbing: markers, PDEATHSIG, /proc scanning, watchdog
# ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc = None
try:
    # Resolve prctl in the parent: the preexec hook must do as little as
    # possible between fork and exec.
    _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6',
                        use_errno=True)
    _prctl = _libc.prctl
except (OSError, AttributeError):
    _prctl = None


def _proc_start_time(pid):
    """Start time of PID (field 22 of /proc/PID/stat), or None."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            stat = f.read().decode('ascii', 'replace')
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses.
    fields = stat[stat.rindex(')') + 2:].split()
    return fields[19]


# Identifies this test process; inherited by everything we start.
_OWNER_TOKEN = '%d:%s:%08x' % (os.getpid(), _proc_start_time(os.getpid()),
                               random.getrandbits(32))


def _make_preexec(parent_pid, no_core=False):
    """preexec_fn: die with SIGKILL when the parent (the thread that
    started us) dies, and bail out if it died already.  NO_CORE sets
    RLIMIT_CORE to 0 (hard too: Samba raises the soft limit itself)."""
    def preexec():
        if no_core:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(127)
    return preexec


def _child_env(extra=None):
    """os.environ plus the owner marker plus EXTRA (None values delete)."""
    env = dict(os.environ)
    env[ENV_OWNER] = _OWNER_TOKEN
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


class ProcInfo(object):
    """A snapshot of one process read from /proc."""

    __slots__ = ('pid', 'state', 'pgrp', 'session', 'args', 'env')

    def __repr__(self):
        return '%d %s' % (self.pid, ' '.join(self.args))


def _read_proc(pid, want_env=True):
    """ProcInfo for PID, or None if it vanished / is unreadable."""
    info = ProcInfo()
    info.pid = pid
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            stat = f.read().decode('ascii', 'replace')
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            info.args = [a.decode('utf-8', 'replace')
                         for a in f.read().split(b'\0') if a]
        info.env = {}
        if want_env:
            with open('/proc/%d/environ' % pid, 'rb') as f:
                for item in f.read().split(b'\0'):
                    key, sep, value = item.partition(b'=')
                    if sep and key.startswith(b'MAILDAT_HARNESS_'):
                        info.env[key.decode()] = value.decode('utf-8',
                                                              'replace')
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(')') + 2:].split()
    info.state = fields[0]
    info.pgrp = int(fields[2])
    info.session = int(fields[3])
    return info


def _all_processes(want_env=True):
    """Live (non-zombie) processes other than ourselves."""
    me = os.getpid()
    result = []
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == me:
            continue
        info = _read_proc(int(name), want_env)
        if info is not None and info.state not in ('Z', 'X'):
            result.append(info)
    return result


def marked_processes(key, value):
    """Live processes whose environment has KEY=VALUE."""
    return [p for p in _all_processes() if p.env.get(key) == value]


def _kill_all(procs, sig):
    for p in procs:
        try:
            os.kill(p.pid, sig)
        except OSError:
            pass


def _terminate(select_fn, grace=5.0):
    """SIGTERM every process select_fn() returns, wait up to GRACE
    seconds, SIGKILL what is left, and return what survived that."""
    procs = select_fn()
    if not procs:
        return []
    _kill_all(procs, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while procs and time.monotonic() < deadline:
        time.sleep(0.05)
        procs = select_fn()
    _kill_all(procs, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while procs and time.monotonic() < deadline:
        time.sleep(0.05)
        procs = select_fn()
    return procs


def reap_orphans():
    """Kill harness-marked processes whose owning test process is gone
    (left over from a test run that was SIGKILLed).  Returns the list of
    processes that were signalled."""
    def orphans():
        found = []
        for p in _all_processes():
            token = p.env.get(ENV_OWNER)
            if not token or token == _OWNER_TOKEN:
                continue
            try:
                pid_s, start, _ = token.split(':', 2)
                owner_alive = _proc_start_time(int(pid_s)) == start
            except ValueError:
                continue
            if not owner_alive:
                found.append(p)
        return found
    victims = orphans()
    if victims:
        _terminate(orphans, grace=2.0)
    return victims


# Source of the watchdog.  It runs in its own session (so terminal
# signals aimed at the test's process group do not reach it), blocks on
# a pipe from the test process, and when that reaches EOF -- the test
# process exited or was killed -- kills everything carrying the owner
# marker.  Normally there is nothing left to kill.
_WATCHDOG_SRC = r'''
import os, signal, sys, time
token = sys.argv[1]
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
while os.read(0, 4096):
    pass
def marked():
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % name, 'rb') as f:
                env = f.read().split(b'\0')
            with open('/proc/%s/stat' % name, 'rb') as f:
                state = f.read().rsplit(b')', 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b'Z', b'X') and \
                (b'MAILDAT_HARNESS_OWNER=' + token.encode()) in env:
            found.append(int(name))
    return found
for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
    pids = marked()
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.monotonic() + wait
    while pids and time.monotonic() < end:
        time.sleep(0.05)
        pids = marked()
'''

_watchdog_lock = threading.Lock()
_watchdog = None        # (Popen, write fd) once started


def _ensure_watchdog():
    """Start the watchdog once per test process (idempotent).
    MAILDAT_HARNESS_WATCHDOG=0 disables it (to diagnose the other
    cleanup layers)."""
    global _watchdog
    if os.environ.get('MAILDAT_HARNESS_WATCHDOG') == '0':
        return
    with _watchdog_lock:
        if _watchdog is not None and _watchdog[0].poll() is None:
            return
        rfd, wfd = os.pipe()        # both ends non-inheritable
        try:
            proc = subprocess.Popen(
                [sys.executable, '-c', _WATCHDOG_SRC, _OWNER_TOKEN],
                stdin=rfd, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                env={k: v for k, v in os.environ.items()
                     if k != ENV_OWNER})
        finally:
            os.close(rfd)
        _watchdog = (proc, wfd)     # wfd stays open until we exit


# ---------------------------------------------------------------------------
# run()
# ---------------------------------------------------------------------------

class Result(tuple):
    """(returncode, stdout, stderr) with attribute access and
    ``timed_out`` (True if the child was killed by the timeout; its
    returncode is then -9)."""

    def __new__(cls, returncode, stdout, stderr, timed_out=False):
        self = tuple.__new__(cls, (returncode, stdout, stderr))
        self.timed_out = timed_out
        return self

    returncode = property(lambda self: self[0])
    stdout = property(lambda self: self[1])
    stderr = property(lambda self: self[2])

    def __str__(self):
        # Readable form for TAP diagnostics.
        return 'exit status %s%s\n--- stdout:\n%s\n--- stderr:\n%s' % (
            self[0], ' (timed out)' if self.timed_out else '',
            self[1], self[2])


def run(argv, timeout=60, env=None, input=None, cwd=None, text=True):
    """Run ARGV, return Result(returncode, stdout, stderr).

    ENV entries are added to (None: removed from) os.environ.  INPUT is
    fed to stdin (str, or bytes with text=False); stdin is /dev/null
    otherwise.  After TIMEOUT seconds the child's whole process group is
    SIGKILLed, returncode is -9, ``timed_out`` is set and a note is
    appended to stderr.  The child also dies if the test process dies.
    """
    argv = [str(a) for a in argv]
    if input is not None and text and isinstance(input, str):
        input = input.encode('utf-8')
    proc = subprocess.Popen(
        argv, cwd=cwd, env=_child_env(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, preexec_fn=_make_preexec(os.getpid()))
    timed_out = False
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired as e:
            # A grandchild that left the process group (a daemon) still
            # holds the pipes: keep what was read and stop reading.
            out, err = e.stdout or b'', e.stderr or b''
            proc.stdout.close()
            proc.stderr.close()
            proc.wait()
    except BaseException:
        # KeyboardInterrupt etc.: do not leave the child behind.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        raise
    if text:
        out = out.decode('utf-8', 'replace')
        err = err.decode('utf-8', 'replace')
        if timed_out:
            err += '\n[harness: killed after %s s timeout]\n' % timeout
    return Result(proc.returncode, out, err, timed_out)


# ---------------------------------------------------------------------------
# Ports and fake servers
# ---------------------------------------------------------------------------

def free_port(host=LOOPBACK):
    """A TCP port on HOST where nothing listens right now (bind to port
    0, read the port, close).  Connecting to it gets ECONNREFUSED."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_accepts(port, host=LOOPBACK, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class TcpServer(object):
    """A loopback TCP listener; ``HANDLER(conn, server)`` runs in a thread
    of its own for each connection it accepts (for fake servers)::

        def stall(conn, srv):
            conn.recv(65536)
            srv.hold(conn)              # keep it open until stop()
        with TcpServer(stall, 'Stall') as fake:
            run([..., fake.url('X')])

    ``port`` is the port, ``connections`` counts the accepted
    connections, ``notes`` is a list for the handlers to write to.
    Connections still open are closed at stop(); an OSError in a handler
    ends that connection quietly.
    """

    def __init__(self, handler, name='TcpServer', host=LOOPBACK):
        self.handler = handler
        self.name = name
        self.host = host
        self.port = None
        self.connections = 0
        self.notes = []
        self.stopping = threading.Event()
        self._sock = None
        self._conns = []
        self._thread = None

    def url(self, share='', path=''):
        return _smb_url(self.host, self.port, share, path)

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop,
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self._conns.append(conn)
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn, self)
        except OSError:
            pass

    def hold(self, conn):
        """Keep CONN open until the server stops."""
        self.stopping.wait()

    def stop(self):
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(2)
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        self._conns = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class HungServer(TcpServer):
    """A loopback TCP listener that accepts connections and never sends
    a byte (for client timeout tests)::

        with HungServer() as hung:
            run([..., 'smb://127.0.0.1:%d/X' % hung.port])
            hung.url('X')

    ``connections`` counts the accepted connections.  They are held open
    until the context exits.
    """

    def __init__(self, host=LOOPBACK):
        TcpServer.__init__(self, lambda conn, srv: srv.hold(conn),
                           'HungServer', host)


class SyslogReceiver(object):
    """Collects syslog datagrams sent to a private unix socket (and,
    with udp=True, to a UDP port on 127.0.0.1)::

        with SyslogReceiver(workdir, udp=True) as slog:
            run(['logger', '-u', slog.path, 'scan finished'])
            msg = slog.wait_for('scan finished', timeout=10)

    How the program under test is pointed at the socket is up to the
    test (syslog(3) itself always writes to /dev/log).  A path longer
    than fits a unix socket address falls back to a short private
    directory under /tmp.

    ``path`` is the unix socket (mode 0666), ``udp_port`` the UDP port or
    None.  ``messages()`` returns the decoded messages received so far
    (trailing NUL/newline stripped).  ``wait_for(pred, timeout)`` waits
    for a message matching PRED -- a callable, a substring or a compiled
    regex -- and returns it, or None on timeout.
    """

    def __init__(self, workdir=None, udp=False, name='syslog.sock'):
        self._own_dir = None
        if workdir is not None:
            self.path = os.path.join(os.path.abspath(workdir), name)
        if workdir is None or len(self.path.encode()) > 100:
            # sun_path holds 108 bytes: fall back to a short private dir.
            self._own_dir = make_workdir('maildat-syslog-', base='/tmp')
            self.path = os.path.join(self._own_dir, name)
        self.udp = udp
        self.udp_port = None
        self._socks = []
        self._msgs = []
        self._cond = threading.Condition()
        self._wake_r = self._wake_w = None
        self._thread = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        unix.bind(self.path)
        os.chmod(self.path, 0o666)
        self._socks.append(unix)
        if self.udp:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((LOOPBACK, 0))
            self.udp_port = udp.getsockname()[1]
            self._socks.append(udp)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._loop,
                                        name='SyslogReceiver', daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        fds = [self._wake_r] + self._socks
        while True:
            ready, _, _ = select.select(fds, [], [])
            if self._wake_r in ready:
                return
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    continue
                text = data.decode('utf-8', 'replace').rstrip('\0\r\n')
                with self._cond:
                    self._msgs.append(text)
                    self._cond.notify_all()

    def messages(self):
        """All messages received so far (a copy)."""
        with self._cond:
            return list(self._msgs)

    def clear(self):
        with self._cond:
            del self._msgs[:]

    def wait_for(self, predicate, timeout=10.0):
        """First message (old or new) matching PREDICATE, or None."""
        match = predicate
        if isinstance(predicate, str):
            def match(msg):
                return predicate in msg
        elif hasattr(predicate, 'search'):
            def match(msg):
                return predicate.search(msg) is not None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self._msgs:
                    if match(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def stop(self):
        if self._thread is not None:
            os.write(self._wake_w, b'x')
            self._thread.join(2)
            self._thread = None
            os.close(self._wake_r)
            os.close(self._wake_w)
        for s in self._socks:
            s.close()
        self._socks = []
        try:
            os.unlink(self.path)
        except OSError:
            pass
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------------------
# Samba
# ---------------------------------------------------------------------------

def _smb_url(host, port, share='', path='', user=None, password=None):
    auth = ''
    if user is not None:
        auth = urllib.parse.quote(user, safe='')
        if password is not None:
            auth += ':' + urllib.parse.quote(password, safe='')
        auth += '@'
    url = 'smb://%s%s:%d/%s' % (auth, host, port, share)
    if path:
        url += '/' + path.lstrip('/')
    return url


# Live Samba instances, stopped by atexit and by the signal handlers.
_live = set()
_live_lock = threading.RLock()
_handlers_installed = False
_prev_handlers = {}


def stop_all():
    """Kill every Daemon and stop every running Samba instance (atexit /
    signal cleanup)."""
    stop_all_daemons()
    with _live_lock:
        instances = list(_live)
    for smb in instances:
        try:
            smb.stop()
        except Exception as e:      # keep going: stop the others too
            _warn('stopping Samba on port %s: %s' % (smb.port, e))


def _on_signal(signum, frame):
    stop_all()
    prev = _prev_handlers.get(signum, signal.SIG_DFL)
    if callable(prev):
        prev(signum, frame)         # e.g. default_int_handler raises
    elif prev != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_cleanup_handlers():
    """atexit + SIGTERM/SIGINT/SIGHUP handlers (once; main thread only).
    A handler installed by the test itself is chained, not replaced."""
    global _handlers_installed
    if _handlers_installed:
        return
    if threading.current_thread() is not threading.main_thread():
        atexit.register(stop_all)
        _handlers_installed = True
        return
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        prev = signal.getsignal(sig)
        if prev is None:            # installed from C; leave it alone
            continue
        _prev_handlers[sig] = prev
        signal.signal(sig, _on_signal)
    _handlers_installed = True


def _ensure_unix_user(name):
    """Create the system account NAME if it does not exist (root only)."""
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise SkipTest('Unix user %r does not exist and creating it needs '
                       'root (useradd)' % name)
    useradd = shutil.which('useradd') or '/usr/sbin/useradd'
    last = None
    for attempt in range(10):
        # Concurrent tests may create the same user at the same time;
        # useradd then fails (exists / passwd file locked): recheck.
        last = run([useradd, '--system', '--no-create-home',
                    '--shell', '/usr/sbin/nologin', name], timeout=30)
        try:
            pwd.getpwnam(name)
            return last.returncode == 0
        except KeyError:
            time.sleep(0.2 + 0.1 * attempt)
    raise HarnessError('useradd %s failed (rc %s): %s'
                       % (name, last.returncode, last.stderr.strip()))


def _accessible_by_other(path):
    """Problems that stop the 'nobody' account reading PATH."""
    problems = []
    path = os.path.abspath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return ['%s: %s' % (path, e.strerror)]
    if mode & 0o005 != 0o005:
        problems.append('%s is mode %04o (needs o+rx)' % (path, mode & 0o7777))
    parent = os.path.dirname(path)
    while True:
        try:
            if not os.stat(parent).st_mode & 0o001:
                problems.append('%s is not traversable (needs o+x)' % parent)
        except OSError:
            pass
        if parent == os.path.dirname(parent):
            break
        parent = os.path.dirname(parent)
    return problems


class Samba(object):
    """A private smbd on 127.0.0.1 for one test.

    ``Samba(workdir, shares, users=None, share_options=None,
    min_protocol='NT1', global_options=None, port=None, log_level=1)``

    SHARES maps share name to directory.  Every share gets ``read only =
    yes``, ``guest ok = yes``, ``browseable = yes``; SHARE_OPTIONS maps a
    share name to extra/overriding parameters, e.g. ``{'priv': {'valid
    users': 'mdtest1', 'guest ok': 'no'}}``.  USERS maps user name to
    password: missing Unix accounts are created with useradd (root only,
    otherwise SkipTest; they are not removed afterwards because
    concurrently running tests may share them) and added to the private
    passdb.  MIN_PROTOCOL sets ``server min protocol`` (None: Samba's
    default, SMB2_02).  GLOBAL_OPTIONS adds/overrides [global]
    parameters.  PORT pins the port (default: a free one, re-picked if
    smbd cannot bind it).  Besides the parameters above the generated
    [global] also sets workgroup/netbios name MAILDATTEST, ``log level``
    (LOG_LEVEL), ``usershare path =`` (empty: no /var/lib/samba lookups),
    ``kernel oplocks = no`` and ``rpc start on demand helpers = yes``.
    SMBD / PDBEDIT default to $SMBD / $PDBEDIT, /usr/sbin/smbd, pdbedit.

    State lives in a fresh directory ``WORKDIR/samba-XXXX`` (``state``):
    ``smb.conf`` (``conf``), ``private/``, ``lock/``, ``state/``,
    ``cache/``, ``pid/``, ``ncalrpc/``, ``binddns/``, ``log/`` and
    ``smbd.out`` (smbd's stdout/stderr, returned by ``log()``).

    Use as a context manager (``__enter__`` starts, ``__exit__`` stops),
    or call ``start()``/``stop()``; ``start()`` after ``stop()`` reuses
    the same port.
    """

    START_TIMEOUT = 20.0
    STOP_GRACE = 5.0
    START_ATTEMPTS = 5

    def __init__(self, workdir, shares, users=None, share_options=None,
                 min_protocol='NT1', global_options=None, port=None,
                 log_level=1, smbd=None, pdbedit=None):
        self.workdir = os.path.abspath(workdir)
        self.shares = dict(shares)
        self.users = dict(users or {})
        self.share_options = {k: dict(v)
                              for k, v in (share_options or {}).items()}
        unknown = set(self.share_options) - set(self.shares)
        if unknown:
            raise ValueError('share_options for unknown shares: %s'
                             % ', '.join(sorted(unknown)))
        self.min_protocol = min_protocol
        self.global_options = dict(global_options or {})
        self.log_level = log_level
        self.host = LOOPBACK
        self.port = port
        self._port_pinned = port is not None
        self.smbd = smbd or os.environ.get('SMBD') or '/usr/sbin/smbd'
        self.pdbedit = (pdbedit or os.environ.get('PDBEDIT')
                        or shutil.which('pdbedit') or '/usr/bin/pdbedit')
        self.state = None           # private state directory
        self.conf = None            # path of the generated smb.conf
        self.proc = None            # Popen of the main smbd
        self.starts = 0
        self._users_done = set()
        self._instance_token = None
        self._stdout_path = None
        self._stopping = False

    # -- public API --------------------------------------------------------

    def url(self, share='', path='', user=None, password=None):
        """'smb://127.0.0.1:PORT/SHARE[/PATH]' (credentials optional)."""
        return _smb_url(self.host, self.port, share, path, user, password)

    def unc(self, share):
        """'//127.0.0.1/SHARE' for smbclient (add -p PORT)."""
        return '//%s/%s' % (self.host, share)

    def smbclient(self, share=None, command='ls', user=None, password=None,
                  protocol=None, timeout=60, extra=()):
        """Run the smbclient CLI against this server and return run()'s
        Result.  SHARE None lists shares (-L).  USER None means -N
        (guest).  PROTOCOL e.g. 'NT1' forces that dialect (sets both the
        client min and max protocol)."""
        client = os.environ.get('SMBCLIENT') or 'smbclient'
        argv = [client, '-p', str(self.port)]
        if share is None:
            argv += ['-L', self.host]
        else:
            argv += [self.unc(share), '-c', command]
        if user is None:
            argv.append('-N')
        else:
            argv += ['-U', '%s%%%s' % (user, password or '')]
        if protocol:
            argv += ['-m', protocol,
                     '--option=client min protocol=%s' % protocol]
        argv += list(extra)
        # A private, empty client config keeps /etc/samba/smb.conf out.
        argv += ['-s', self._client_conf()]
        return run(argv, timeout=timeout)

    def log(self, tail=None, files=False):
        """smbd's stdout/stderr (all starts) as text; with FILES also the
        contents of the private log directory.  TAIL: last N lines."""
        text = ''
        if self._stdout_path and os.path.exists(self._stdout_path):
            with open(self._stdout_path, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
        if files and self.state:
            logdir = os.path.join(self.state, 'log')
            for name in sorted(os.listdir(logdir)):
                path = os.path.join(logdir, name)
                if not os.path.isfile(path):
                    continue        # e.g. the 'cores' directory
                with open(path, 'rb') as f:
                    text += '\n=== %s ===\n' % name
                    text += f.read().decode('utf-8', 'replace')
        if tail is not None:
            text = '\n'.join(text.splitlines()[-tail:])
        return text

    def processes(self):
        """Live processes belonging to this instance: carrying its
        environment marker, in smbd's session, or naming its smb.conf."""
        if self._instance_token is None:
            return []
        # smbd's session id is its pid; only trust it while smbd lives.
        sid = self.proc.pid if self.running else None
        found = []
        for p in _all_processes():
            if (p.env.get(ENV_INSTANCE) == self._instance_token
                    or (sid is not None and p.session == sid)
                    or (self.conf and any(self.conf in a for a in p.args))):
                found.append(p)
        return found

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def add_user(self, name, password):
        """Create (if needed) Unix account NAME and add it with PASSWORD
        to the private passdb.  Works before or after start()."""
        self.users[name] = password
        if self.conf is not None:
            self._add_passdb_user(name, password)

    def start(self):
        """Start smbd and wait until it accepts connections."""
        if self.running:
            return self
        if not (os.path.isfile(self.smbd)
                and os.access(self.smbd, os.X_OK)):
            raise SkipTest('smbd not found at %s (set SMBD)' % self.smbd)
        _install_cleanup_handlers()
        _ensure_watchdog()
        reap_orphans()
        with _live_lock:
            _live.add(self)         # from now on stop_all() covers us
        if self.state is None:
            self._make_state()
        self._check_share_permissions()
        for name, password in self.users.items():
            if name not in self._users_done:
                self._add_passdb_user(name, password)

        attempts = self.START_ATTEMPTS
        for attempt in range(attempts):
            if self.port is None or (attempt and not self._port_pinned):
                self.port = free_port()
            self._write_conf()
            if self._spawn_and_wait() == 'ok':
                return self
            # smbd could not bind: another process took the port.
            self._kill_everything()
            if self._port_pinned:
                time.sleep(0.5)     # wait for the other user to go away
        raise HarnessError('smbd could not bind to a port after %d '
                           'attempts (last: 127.0.0.1:%s, Address already '
                           'in use); log tail:\n%s'
                           % (attempts, self.port, self.log(tail=12)))

    def stop(self):
        """SIGTERM smbd's process group, SIGKILL it after STOP_GRACE
        seconds, then kill any remaining helper (samba-dcerpcd, rpcd_*)
        of this instance.  Idempotent.  Raises HarnessError if a process
        of this instance survives SIGKILL."""
        with _live_lock:
            _live.discard(self)
        if self.proc is None or self._stopping:
            # Never started, or a signal handler re-entered stop() while
            # it was running: the outer call finishes the job.
            return
        self._stopping = True
        try:
            survivors = self._kill_everything()
        finally:
            self._stopping = False
        if survivors:
            raise HarnessError('processes of %s survived SIGKILL: %s'
                               % (self.conf, survivors))

    def __enter__(self):
        try:
            return self.start()
        except BaseException as start_error:
            try:
                self.stop()
            except Exception as e:
                _warn('cleanup after failed start (%s): %s'
                      % (start_error, e))
            raise

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            # Do not let a cleanup problem hide the test's own exception.
            try:
                self.stop()
            except Exception as e:
                _warn('while handling %s: %s' % (exc_type.__name__, e))
        return False

    def __repr__(self):
        return '<Samba port=%s state=%s running=%s>' % (
            self.port, self.state, self.running)

    # -- internals -----------------------------------------------------------

    def _make_state(self):
        if not os.path.isdir(self.workdir):
            os.makedirs(self.workdir, 0o755)
        self.state = tempfile.mkdtemp(prefix='samba-', dir=self.workdir)
        os.chmod(self.state, 0o755)
        for sub in ('private', 'lock', 'state', 'cache', 'pid', 'ncalrpc',
                    'binddns', 'log'):
            os.mkdir(os.path.join(self.state, sub))
            os.chmod(os.path.join(self.state, sub), 0o755)
        self.conf = os.path.join(self.state, 'smb.conf')
        self._stdout_path = os.path.join(self.state, 'smbd.out')
        self._instance_token = '%s:%s' % (_OWNER_TOKEN, self.state)
        if self.port is None:
            self.port = free_port()
        self._write_conf()          # pdbedit needs it before smbd runs

    def _client_conf(self):
        path = os.path.join(self.state, 'client.conf')
        if not os.path.exists(path):
            with open(path, 'w') as f:
                f.write('[global]\n\tclient min protocol = NT1\n'
                        '\tlock directory = %s/lock\n'
                        '\tstate directory = %s/state\n'
                        '\tcache directory = %s/cache\n'
                        % (self.state, self.state, self.state))
        return path

    def _global_params(self):
        d = os.path.join
        s = self.state
        params = [
            ('server role', 'standalone server'),
            ('workgroup', 'MAILDATTEST'),
            ('netbios name', 'MAILDATTEST'),
            ('smb ports', str(self.port)),
            ('interfaces', self.host),
            ('bind interfaces only', 'yes'),
            ('disable netbios', 'yes'),
            ('private dir', d(s, 'private')),
            ('lock directory', d(s, 'lock')),
            ('state directory', d(s, 'state')),
            ('cache directory', d(s, 'cache')),
            ('pid directory', d(s, 'pid')),
            ('ncalrpc dir', d(s, 'ncalrpc')),
            ('binddns dir', d(s, 'binddns')),
            ('log file', d(s, 'log', 'log.%m')),
            ('log level', str(self.log_level)),
            ('passdb backend', 'tdbsam:' + d(s, 'private', 'passdb.tdb')),
            ('usershare path', ''),
            ('load printers', 'no'),
            ('printing', 'bsd'),
            ('printcap name', '/dev/null'),
            ('disable spoolss', 'yes'),
            ('map to guest', 'Bad User'),
            ('guest account', 'nobody'),
            ('rpc start on demand helpers', 'yes'),
            ('kernel oplocks', 'no'),
        ]
        if self.min_protocol:
            params.append(('server min protocol', self.min_protocol))
        return params

    def _write_conf(self):
        lines = ['# Generated by tests/integration/harness.py', '[global]']
        params = dict(self._global_params())
        params.update(self.global_options)
        lines += ['\t%s = %s' % kv for kv in params.items()]
        for name, path in self.shares.items():
            opts = {'path': os.path.abspath(path), 'read only': 'yes',
                    'guest ok': 'yes', 'browseable': 'yes'}
            opts.update(self.share_options.get(name, {}))
            lines += ['', '[%s]' % name]
            lines += ['\t%s = %s' % kv for kv in opts.items()]
        tmp = self.conf + '.tmp'
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.conf)

    def _check_share_permissions(self):
        for name, path in self.shares.items():
            problems = _accessible_by_other(path)
            if problems:
                _warn('share [%s] may be unreadable for smbd users: %s'
                      % (name, '; '.join(problems)))

    def _add_passdb_user(self, name, password):
        _ensure_unix_user(name)
        res = run([self.pdbedit, '-s', self.conf, '-a', '-u', name, '-t'],
                  input='%s\n%s\n' % (password, password), timeout=60)
        if res.returncode != 0:
            raise HarnessError('pdbedit -a -u %s failed (rc %s):\n%s%s'
                               % (name, res.returncode, res.stdout,
                                  res.stderr))
        self._users_done.add(name)

    def _spawn_and_wait(self):
        """Start smbd once.  'ok' when it listens; 'bind' when it could
        not bind its port; raises on any other failure."""
        self.starts += 1
        with open(self._stdout_path, 'ab') as out:
            out.write(('\n=== harness: start #%d on port %d ===\n'
                       % (self.starts, self.port)).encode())
            out.flush()
            # smbd calls setsid() itself unless --no-process-group; that
            # fails (EPERM) because start_new_session already made it a
            # session leader, so leave it to Popen.
            argv = [self.smbd, '--foreground', '--debug-stdout',
                    '--no-process-group', '-s', self.conf]
            env = _child_env({ENV_INSTANCE: self._instance_token})
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=self.state,
                start_new_session=True,
                preexec_fn=_make_preexec(os.getpid(), no_core=True))
        log_offset = os.path.getsize(self._stdout_path)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self._log_since(log_offset)
                if re.search(r'Address already in use|No sockets available'
                             r'|open_socket_in', text):
                    return 'bind'
                if os.geteuid() != 0:
                    raise SkipTest('smbd exited (rc %s) -- running smbd '
                                   'needs root; log tail:\n%s'
                                   % (self.proc.returncode,
                                      self.log(tail=20)))
                raise HarnessError('smbd exited with status %s during '
                                   'startup; log tail:\n%s'
                                   % (self.proc.returncode,
                                      self.log(tail=40)))
            if self._smbd_listens() and _port_accepts(self.port):
                return 'ok'
            time.sleep(0.05)
        tail = self.log(tail=40)
        self._kill_everything()
        raise HarnessError('smbd did not accept connections on port %d '
                           'within %g s; log tail:\n%s'
                           % (self.port, self.START_TIMEOUT, tail))

    def _log_since(self, offset):
        with open(self._stdout_path, 'rb') as f:
            f.seek(offset)
            return f.read().decode('utf-8', 'replace')

    def _smbd_listens(self):
        """True if a listening socket on our port belongs to our smbd
        (not to a process that grabbed the port in the meantime)."""
        inodes = set()
        try:
            with open('/proc/net/tcp') as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local, state, inode = cols[1], cols[3], cols[9]
                    if state == '0A' and \
                            int(local.split(':')[1], 16) == self.port:
                        inodes.add('socket:[%s]' % inode)
        except OSError:
            return True     # no /proc/net/tcp: trust the connect test
        fddir = '/proc/%d/fd' % self.proc.pid
        try:
            for fd in os.listdir(fddir):
                try:
                    if os.readlink(os.path.join(fddir, fd)) in inodes:
                        return True
                except OSError:
                    pass
        except OSError:
            pass
        return False

    def _kill_everything(self):
        """Terminate smbd's process group and every process of this
        instance; reap smbd.  Returns the processes still alive."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                proc.wait(self.STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        # Helpers outside smbd's process group (or that outlived it).
        survivors = _terminate(self.processes, grace=2.0)
        return survivors


# ---------------------------------------------------------------------------
# maildatd: fixtures, /proc helpers, Daemon
# ---------------------------------------------------------------------------

def wait_until(fn, timeout, step=0.1):
    """Call FN until it returns something true; return that, or the last
    (false) value after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def loc(port, share, path='', host=LOOPBACK):
    """The location string the store keeps (and maildatctl prints) for
    smb://HOST:PORT/SHARE/PATH."""
    s = '\\\\%s@%d\\%s' % (host, port, share)
    if path:
        s += '\\' + path.replace('/', '\\')
    return s


def target(name, url, **kw):
    """A '[target NAME]' section with URL and the KW settings."""
    lines = ['[target %s]' % name, 'url = %s' % url]
    lines += ['%s = %s' % kv for kv in kw.items()]
    return '\n'.join(lines) + '\n'


def mkpo(*args, timeout=60):
    """Run mkpostoffice ARGS (the directory is one of them); raises
    HarnessError if it fails."""
    args = [str(a) for a in args]
    res = run([tool('mkpostoffice')] + args, timeout=timeout)
    if res.returncode != 0:
        raise HarnessError('mkpostoffice %s failed:\n%s'
                           % (' '.join(args), res))


def make_readable(top):
    """Every directory below TOP 0755 and every file 0644, whatever the
    umask: smbd serves guest shares as 'nobody'."""
    os.chmod(top, 0o755)
    for root, dirs, files in os.walk(top):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def write_auth(path, user, password, mode=0o600):
    """An auth file for USER (domain MAILDATTEST) of MODE."""
    with open(path, 'w') as f:
        f.write('username = %s\npassword = %s\ndomain = MAILDATTEST\n'
                % (user, password))
    os.chmod(path, mode)


def is_asan(path=None):
    """True if the program PATH (default: the built maildatd) was built
    with AddressSanitizer."""
    with open(path or tool('maildatd'), 'rb') as f:
        return b'__asan_init' in f.read()


def proc_stat(pid):
    """(state, ppid) of PID, or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(')') + 2:].split()
    return fields[0], int(fields[1])


def proc_args(pid):
    """The command line of PID as a list of bytes, or None."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return [a for a in f.read().split(b'\0') if a]
    except OSError:
        return None


def proc_status(pid):
    """The fields of /proc/PID/status as a dict of strings (OSError if
    PID is gone)."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            out[key] = value.strip()
    return out


def vmrss_kib(pid):
    """VmRSS of PID in KiB, or None."""
    rss = proc_status(pid).get('VmRSS')
    return int(rss.split()[0]) if rss else None


def alive(pid):
    """True if PID exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ('Z', 'X')


def is_worker_args(args):
    """True if the command line ARGS (bytes) is a maildatd --worker."""
    return bool(args) and b'--worker' in args and \
        b'maildatd' in os.path.basename(args[0])


def worker_pids(parent):
    """Live crawl workers (maildatd --worker) whose parent is PARENT."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        pid = int(name)
        st = proc_stat(pid)
        if st is None or st[0] in ('Z', 'X') or st[1] != parent:
            continue
        if is_worker_args(proc_args(pid)):
            found.append(pid)
    return sorted(found)


def our_workers():
    """Live maildatd workers started by this test process (owner
    marker), whoever their parent is now."""
    return [p.pid for p in marked_processes(ENV_OWNER, _OWNER_TOKEN)
            if is_worker_args([a.encode() for a in p.args])]


def kill_pids(pids, sig=signal.SIGKILL):
    """Send SIG to each of PIDS; those already gone are skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def run_dirs(uid, prefixes=('maildatd.',)):
    """The /tmp/PREFIX* entries owned by UID: the daemons' run
    directories /tmp/maildatd.PID.XXXXXX (and, with 'maildat-smb.', the
    libsmbclient state directory of a process without one)."""
    found = set()
    for name in os.listdir('/tmp'):
        if name.startswith(tuple(prefixes)):
            try:
                if os.lstat('/tmp/' + name).st_uid == uid:
                    found.add('/tmp/' + name)
            except OSError:
                pass
    return found


# Every Daemon ever started, for stop_all_daemons() and daemons().
_daemons = []
_daemons_lock = threading.RLock()


def daemons():
    """Every Daemon started by this test process, in order (a copy)."""
    with _daemons_lock:
        return list(_daemons)


def stop_all_daemons():
    """SIGKILL every Daemon started here and its workers, and then every
    maildatd --worker carrying this process's owner marker (a worker
    outlives its SIGKILLed parent until it reads EOF).  Between the
    cases of a suite and at its end; stop_all() calls it too."""
    for d in daemons():
        try:
            d.kill()
        except Exception as e:          # keep going
            _warn('killing maildatd: %s' % e)
    kill_pids(our_workers())


@contextlib.contextmanager
def suite(t, needs_root=None, prefix='maildat-test-'):
    """The frame of a suite's main() around its Tap T::

        with harness.suite(t, 'needs root (smbd)') as work:
            with harness.Samba(work, ...) as smb:
                harness.run_cases(t, [('once', case_once)], env)

    Skips everything (NEEDS_ROOT says why) unless root, yields a fresh
    work directory (make_workdir(PREFIX)), turns a SkipTest into a skip
    of the rest, and at the end kills every Daemon, removes the work
    directory and prints the runtime and the plan."""
    started = time.monotonic()
    if needs_root is not None and os.geteuid() != 0:
        t.skip_all(needs_root)
    work = make_workdir(prefix)
    try:
        yield work
    except SkipTest as e:
        t.skip_all(str(e))
    finally:
        stop_all_daemons()
        shutil.rmtree(work, ignore_errors=True)
    t.diag('runtime %.1f s' % (time.monotonic() - started))
    t.done()


def run_cases(t, cases, *args, only_env=None):
    """t.run(FN, NAME, *ARGS, *EXTRA) for each (NAME, FN, *EXTRA) of
    CASES in turn, the time each took as a diagnostic, and
    stop_all_daemons() after each (also when one fails).  ONLY_ENV names
    an environment variable that may hold a comma-separated list of the
    names to run."""
    only = [c for c in os.environ.get(only_env or '', '').split(',') if c]
    try:
        for name, fn, *extra in cases:
            if only and name not in only:
                continue
            t0 = time.monotonic()
            t.run(fn, name, *(args + tuple(extra)))
            t.diag('%s: %.1f s' % (name, time.monotonic() - t0))
            stop_all_daemons()
    finally:
        stop_all_daemons()


class Daemon(object):
    """One maildatd in the foreground (``maildatd -d -c CONF``), run as
    root and dropping to USER, with its own directory owned by USER.

    ``Daemon(work, name, body='', workers=2, extra_global='',
    user='nobody', dbdir=None, syslog=None, exe=None)``

    The directory ``WORK/NAME`` (``dir``, mode 0755) holds the database
    ``maildat.db`` (``db``; in DBDIR instead if given) and the control
    socket ``control.sock`` (``sock``).  The configuration ``WORK/NAME
    .conf`` (``conf``) is written atomically (``write_conf()``): a
    [maildatd] section with database, control_socket, user, workers,
    syslog (SYSLOG, else the class attribute ``Daemon.syslog``, which a
    suite sets to its SyslogReceiver's socket) and the lines
    EXTRA_GLOBAL, then BODY (targets, credentials, rules: see
    ``target()``).  The daemon's stdout and stderr go to ``WORK/NAME.log``
    (``logpath``, read by ``log()``), appended to over restarts.  EXE
    replaces the built maildatd.

    ``start(*args, prefix=(), env=None, wait_started=True, preexec=None,
    cwd=None, cores=False)`` starts it (again) with ARGS after the
    harness's markers and PR_SET_PDEATHSIG; PREFIX goes before the
    program (valgrind), ENV is added to the environment, PREEXEC runs in
    the child before exec, CORES raises RLIMIT_CORE to unlimited (as a
    shell may have it).  WAIT_STARTED waits for 'maildatd: started:' in
    what this start logged.  ``stop(timeout=20)`` sends SIGTERM, then
    ``kill()`` after TIMEOUT, and returns the exit status;  ``kill()``
    SIGKILLs the daemon and its workers.  Every started Daemon is in one
    registry: ``stop_all_daemons()``, ``daemons()``.

    ``status()`` reads the status over the control socket (a dict of
    strings; ``control()`` sends any command, ``converse()`` raw bytes);
    ``ctl()`` runs maildatctl on its socket and database.  ``crawls()``,
    ``count()``, ``ncrawls()``, ``query()``, ``integrity()`` read the
    database (read-only; ``fix_owner()`` gives files a root connection
    created back to USER), ``db_bytes()`` its files.  ``worker_pids()``
    and ``rundir()`` look at the live workers.
    """

    syslog = 'local'            # default syslog destination
    START_TIMEOUT = 30.0

    def __init__(self, work, name, body='', workers=2, extra_global='',
                 user='nobody', dbdir=None, syslog=None, exe=None):
        self.name = name
        self.user = pwd.getpwnam(user)
        self.dir = os.path.join(work, name)
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.db = os.path.join(dbdir or self.dir, 'maildat.db')
        self.sock = os.path.join(self.dir, 'control.sock')
        self.conf = os.path.join(work, name + '.conf')
        self.logpath = os.path.join(work, name + '.log')
        self.workers = workers
        self.extra_global = extra_global
        if syslog is not None:
            self.syslog = syslog
        self.exe = exe
        self.proc = None
        self.pids = []              # of every start, oldest first
        self.started_at = None
        self.log_f = None
        self.write_conf(body)

    # -- configuration -----------------------------------------------------

    def conf_text(self, body, extra_global=None):
        """The configuration for BODY (EXTRA_GLOBAL None: the one given
        to the constructor)."""
        extra = self.extra_global if extra_global is None else extra_global
        # Tests crawl every second or so: the rules keep up with them
        # (the default, 1 min, is for estates, not for tests).
        rules = ('' if 'rules_interval' in (extra or '')
                 else 'rules_interval = 1s\n')
        return ('[maildatd]\n'
                'database = %s\n'
                'control_socket = %s\n'
                'user = %s\n'
                'workers = %d\n'
                'syslog = %s\n'
                '%s%s\n%s' % (self.db, self.sock, self.user.pw_name,
                              self.workers, self.syslog, rules,
                              extra, body))

    def write_conf(self, body, extra_global=None, raw=None):
        """Write conf_text(BODY, EXTRA_GLOBAL), or the text RAW, to
        ``conf`` atomically (mode 0644); returns the text."""
        text = raw if raw is not None else self.conf_text(body, extra_global)
        tmp = self.conf + '.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.conf)
        return text

    # -- process -----------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    def start(self, *args, prefix=(), env=None, wait_started=True,
              preexec=None, cwd=None, cores=False):
        """Start ``maildatd -d -c CONF ARGS``; returns self.  Raises
        HarnessError if WAIT_STARTED and it exits or does not log
        'maildatd: started:' within START_TIMEOUT seconds."""
        _install_cleanup_handlers()
        _ensure_watchdog()
        if self.log_f is None or self.log_f.closed:
            self.log_f = open(self.logpath, 'ab')
        self.log_f.flush()
        offset = os.path.getsize(self.logpath)
        argv = list(prefix) + [self.exe or tool('maildatd'), '-d', '-c',
                               self.conf] + list(args)
        base = _make_preexec(os.getpid())

        def pre():
            if cores:
                resource.setrlimit(resource.RLIMIT_CORE,
                                   (resource.RLIM_INFINITY,
                                    resource.RLIM_INFINITY))
            base()
            if preexec is not None:
                preexec()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(a) for a in argv], stdin=subprocess.DEVNULL,
            stdout=self.log_f, stderr=subprocess.STDOUT, cwd=cwd,
            env=_child_env(env), start_new_session=True,
            # A PREEXEC may set a signal disposition of its own.
            restore_signals=preexec is None, preexec_fn=pre)
        self.pids.append(self.proc.pid)
        with _daemons_lock:
            if self not in _daemons:
                _daemons.append(self)
        if wait_started:
            ok = wait_until(lambda: 'maildatd: started:' in
                            self.log(since=offset) or
                            self.proc.poll() is not None,
                            self.START_TIMEOUT)
            if self.proc.poll() is not None or not ok:
                raise HarnessError('maildatd did not start (rc %s); log:\n%s'
                                   % (self.proc.poll(), self.log()[-3000:]))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        """Exit status, or None if still running after TIMEOUT."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        """Send SIG to the daemon if it runs."""
        if self.running():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout=20):
        """SIGTERM, then kill() after TIMEOUT.  Returns the exit status
        (None if it was never started).  Idempotent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.kill()
        self.proc.wait()
        if self.log_f is not None:
            self.log_f.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL the daemon and the workers it has."""
        if self.proc is not None and self.proc.poll() is None:
            workers = self.worker_pids()
            kill_pids([self.proc.pid])
            self.proc.wait()
            kill_pids(workers)

    def worker_pids(self):
        """Its live workers."""
        return worker_pids(self.proc.pid) if self.proc is not None else []

    def rundir(self):
        """The run directory its workers were given (--statedir), or
        None."""
        for pid in self.worker_pids():
            args = proc_args(pid) or []
            for i, a in enumerate(args[:-1]):
                if a == b'--statedir':
                    return args[i + 1].decode()
        return None

    def log(self, since=0):
        """What the daemon wrote to stdout and stderr, all starts (from
        byte offset SINCE on)."""
        try:
            with open(self.logpath, 'rb') as f:
                f.seek(since)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    # -- control socket ----------------------------------------------------

    def ctl(self, *args, user=None, timeout=30):
        """Run maildatctl --socket SOCK --db DB ARGS (as USER with
        runuser if given); run()'s Result."""
        argv = [tool('maildatctl'), '--socket', self.sock, '--db',
                self.db] + list(args)
        if user is not None:
            argv = ['runuser', '-u', user, '--'] + argv
        return run(argv, timeout=timeout)

    def converse(self, data, timeout=15):
        """Send the bytes DATA to the control socket as root and read
        until the daemon closes: (the answer's text, maybe empty, and the
        OSError that ended it or None)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        out = b''
        error = None
        try:
            s.connect(self.sock)
            s.sendall(data)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError as e:
            error = e
        finally:
            s.close()
        return out.decode('utf-8', 'replace'), error

    def control(self, command, timeout=15):
        """Send one command line to the control socket; the answer's
        text, or None."""
        text, error = self.converse(command.encode() + b'\n', timeout)
        return None if error is not None else text

    def status(self, timeout=15):
        """The daemon's status ('key: value' lines of the status command)
        as a dict of strings, or None."""
        text = self.control('status', timeout)
        if not text or not text.startswith('ok\n'):
            return None
        return dict(l.split(': ', 1) for l in text.splitlines()[1:]
                    if ': ' in l)

    # -- database ----------------------------------------------------------

    def query(self, sql, params=()):
        """The rows of SQL on the database, opened read-only ([] if it
        does not exist)."""
        if not os.path.exists(self.db):
            return []
        uri = 'file:%s?mode=ro' % urllib.parse.quote(self.db)
        con = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
            if not self.running():
                self.fix_owner()

    def crawls(self):
        """Every crawl: (id, location, started_us, finished_us, outcome,
        error, network, postoffice), oldest first."""
        return self.query(
            'SELECT c.id, l.location, c.started_us, c.finished_us, '
            'c.outcome, c.error, c.network, c.postoffice FROM crawl c '
            'JOIN location l ON l.id = c.location_id ORDER BY c.id')

    def count(self, location=None, outcome=None):
        """How many crawls (of LOCATION, with OUTCOME)."""
        return len([r for r in self.crawls()
                    if (location is None or r[1] == location)
                    and (outcome is None or r[4] == outcome)])

    def ncrawls(self):
        """The number of rows in the crawl table (0 without a database)."""
        rows = self.query('SELECT count(*) FROM crawl')
        return rows[0][0] if rows else 0

    def integrity(self):
        """PRAGMA integrity_check: [('ok',)] for a sound database."""
        try:
            return self.query('PRAGMA integrity_check')
        except sqlite3.Error as e:
            return [('error: %s' % e,)]

    def db_bytes(self):
        """The bytes of the database files (with -wal, -shm, -journal)."""
        blob = b''
        for suffix in ('', '-wal', '-shm', '-journal'):
            try:
                with open(self.db + suffix, 'rb') as f:
                    blob += f.read()
            except OSError:
                pass
        return blob

    def fix_owner(self):
        """A root connection may leave root-owned -wal/-shm files behind,
        which the daemon's user could not open: give them back."""
        for suffix in ('', '-wal', '-shm', '-journal'):
            try:
                os.chown(self.db + suffix, self.user.pw_uid,
                         self.user.pw_gid)
            except OSError:
                pass

    def __repr__(self):
        return '<Daemon %s pid=%s running=%s>' % (
            self.name, self.proc and self.proc.pid, self.running())


# ---------------------------------------------------------------------------
# TAP
# ---------------------------------------------------------------------------

class Tap(object):
    """Minimal TAP 12 producer for automake's tap-driver.sh.

    ``ok(cond, desc, diag=None, todo=None)``, ``eq(got, want, desc)``,
    ``skip(desc, reason)``, ``diag(text)``, ``run(fn, desc=None)`` /
    ``@t.test``, ``skip_all(reason)``, ``bail_out(reason)``, ``done()``
    (prints the trailing plan '1..N' and returns 0) and ``exit()``
    (done() then sys.exit(0)).  The exit status is always 0: tap-driver
    judges by the lines.  Everything goes to stdout, flushed per line.
    """

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.count = 0
        self.failed = 0
        self.finished = False

    def _emit(self, line):
        self.out.write(line + '\n')
        self.out.flush()

    @staticmethod
    def _clean(desc):
        # One line; '#' would start a directive (SKIP/TODO): tap-driver
        # honours the TAP escape '\#'.
        return str(desc).replace('\n', ' ').replace('#', '\\#')

    def diag(self, text):
        """Emit TEXT as '# ' comment lines."""
        for line in str(text).splitlines() or ['']:
            self._emit('# ' + line if line else '#')

    def ok(self, cond, desc='', diag=None, todo=None):
        """One test line; DIAG (text or callable) is printed on failure."""
        self.count += 1
        line = '%s %d - %s' % ('ok' if cond else 'not ok', self.count,
                               self._clean(desc))
        if todo:
            line += ' # TODO %s' % self._clean(todo)
        self._emit(line)
        if not cond:
            if not todo:
                self.failed += 1
            if diag is not None:
                self.diag(diag() if callable(diag) else diag)
        return bool(cond)

    def eq(self, got, want, desc='', diag=None):
        """ok(got == want); on failure shows both values and DIAG."""
        good = got == want
        extra = None
        if not good:
            extra = '     got: %r\nexpected: %r' % (got, want)
            if diag is not None:
                extra += '\n' + str(diag() if callable(diag) else diag)
        return self.ok(good, desc, diag=extra)

    def like(self, text, pattern, desc='', diag=None):
        """ok(re.search(pattern, text))."""
        good = re.search(pattern, text or '') is not None
        extra = None
        if not good:
            extra = 'text %r\ndoes not match %r' % (text, pattern)
            if diag is not None:
                extra += '\n' + str(diag() if callable(diag) else diag)
        return self.ok(good, desc, diag=extra)

    def skip(self, desc, reason=''):
        self.count += 1
        self._emit('ok %d - %s # SKIP %s' % (self.count, self._clean(desc),
                                             self._clean(reason)))

    def run(self, fn, desc=None, *args, **kwargs):
        """Call FN(*args, **kwargs).  An exception becomes 'not ok' with
        the traceback as diagnostics (SkipTest becomes a skip).  If FN
        returns normally without emitting any test line itself, one
        'ok' line is emitted for it.  Returns FN's value (None on
        exception)."""
        desc = desc or getattr(fn, '__name__', 'test')
        before = self.count
        try:
            result = fn(*args, **kwargs)
        except unittest.SkipTest as e:
            self.skip(desc, str(e))
            return None
        except Exception:
            self.ok(False, '%s raised' % desc,
                    diag=traceback.format_exc())
            return None
        if self.count == before:
            self.ok(True, desc)
        return result

    def test(self, fn):
        """Decorator: run FN now through run() and return FN."""
        self.run(fn)
        return fn

    def skip_all(self, reason):
        """No tests can run: '1..0 # SKIP reason' and exit 0.  If tests
        were already emitted, emit a skip line and finish normally."""
        if self.count == 0:
            self._emit('1..0 # SKIP %s' % self._clean(reason))
            self.finished = True
        else:
            self.skip('remaining tests', reason)
            self.done()
        sys.exit(0)

    def bail_out(self, reason):
        self._emit('Bail out! %s' % self._clean(reason))
        self.finished = True
        sys.exit(0)

    def done(self):
        """Print the plan (once) and return 0."""
        if not self.finished:
            self._emit('1..%d' % self.count)
            self.finished = True
        return 0

    def exit(self):
        self.done()
        sys.exit(0)


TapRunner = Tap
