#!/usr/bin/env python3
"""Dead SMB targets on the loopback, for bench/run-deadhosts-bench.sh.

    deadhosts.py WORKDIR [--refused N] [--hung M]

Writes WORKDIR/dead-urls, one smb://ADDR:PORT/MAILDAT$ a line, N + M of
them, every one with its own address and port, none of which answers:

  refused  N addresses 127.1.x.y on a few ports where nothing listens on
           any address (checked in /proc/net/tcp and tcp6): the connect
           is refused at once;
  hung     M listeners on 127.2.x.y, each listen(fd, 1) and never
           accepting, their backlog filled with two connections of our
           own: a further connect gets no answer (the kernel drops its
           SYN) until the client gives up.

Only addresses in 127.0.0.0/8 are used.  When the targets are ready it
writes WORKDIR/dead-ready and waits for SIGTERM, SIGINT or SIGHUP; then it
closes everything and exits.  Needs about 3 * M file descriptors (the soft
limit is raised to the hard one).
"""
import argparse
import errno
import os
import resource
import select
import signal
import socket
import sys
import threading


def listening_ports():
    """Ports with a listening TCP socket on any address."""
    ports = set()
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == '0A':
                        ports.add(int(cols[1].rsplit(':', 1)[1], 16))
        except OSError:
            pass
    return ports


def addr(second, i):
    """The i-th address 127.SECOND.x.y (y from 1 to 250)."""
    return '127.%d.%d.%d' % (second, i // 250, i % 250 + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('workdir')
    ap.add_argument('--refused', type=int, default=5000)
    ap.add_argument('--hung', type=int, default=5000)
    a = ap.parse_args()
    if a.refused > 250 * 256 * 4 or a.hung > 250 * 256:
        sys.exit('deadhosts: too many targets')

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if 3 * a.hung + 64 > hard:
        sys.exit('deadhosts: %d hung listeners need %d fds; the limit is %d'
                 % (a.hung, 3 * a.hung + 64, hard))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: stop.set())

    busy = listening_ports()
    # Ports for the refused targets: nothing listens on them anywhere.
    rports = [p for p in range(47001, 48000) if p not in busy][:4]
    urls = []
    for i in range(a.refused):
        urls.append('smb://%s:%d/MAILDAT$' % (addr(1, i // 4), rports[i % 4]))

    # Listeners with a full backlog.
    hport = [p for p in range(48001, 49000) if p not in busy][0]
    held = []
    for i in range(a.hung):
        ip = addr(2, i)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((ip, hport))
        ls.listen(1)
        held.append(ls)
        # listen(fd, 1) queues two connections; they complete at once.
        for _ in range(2):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(2)
            c.connect((ip, hport))
            held.append(c)
        urls.append('smb://%s:%d/MAILDAT$' % (ip, hport))

    # Check a few: a third connect must stay unanswered.
    for i in range(0, a.hung, max(1, a.hung // 5)):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        rc = c.connect_ex((addr(2, i), hport))
        if rc not in (errno.EINPROGRESS, 0):
            sys.exit('deadhosts: unexpected connect result %d' % rc)
        p = select.poll()
        p.register(c, select.POLLOUT)
        w = p.poll(300)
        c.close()
        if w:
            sys.exit('deadhosts: the listener on %s:%d answered a third '
                     'connect; the backlog is not full' % (addr(2, i), hport))

    # Refused and hung alternate, so neither kind comes first.
    ref, hung = urls[:a.refused], urls[a.refused:]
    mixed = []
    for i in range(max(len(ref), len(hung))):
        mixed += ref[i:i + 1] + hung[i:i + 1]
    with open(os.path.join(a.workdir, 'dead-urls'), 'w') as f:
        f.write(''.join(u + '\n' for u in mixed))
    with open(os.path.join(a.workdir, 'dead-ready'), 'w') as f:
        f.write('%d refused on ports %s, %d hung on port %d\n'
                % (a.refused, ' '.join(map(str, rports)), a.hung, hport))
    while not stop.wait(1.0):
        pass
    for s in held:
        s.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
