#!/usr/bin/python3
r"""Crawl postoffice locations with impacket, in a thread pool.

    /usr/bin/python3 impacket_crawl.py [-t THREADS] [--per share|server] URLS

URLS is a file with one smb://HOST:PORT/SHARE[/PATH] a line.  Each
location is read as maildatd reads a sound postoffice: GLB\MASTER.GLB,
GLB\NETWORK.GLB and the XTN file each NETWORK.GLB record names, each
opened by name, no folder listed.  Anonymous session.  With --per server (the default) each thread
keeps one SMBConnection per server and connects the tree of each share on
it; with --per share each location gets a connection of its own.

Prints one line: locations, ok, failed, seconds, crawls/s, and the CPU
seconds (user+sys) of this process at the end, and before the first crawl
(interpreter and impacket start-up).  Exit status 1 if any crawl failed.

Uses Debian's python3-impacket (hence /usr/bin/python3).
"""
import argparse
import concurrent.futures
import os
import re
import sys
import threading
import time

from impacket.nt_errors import STATUS_OBJECT_NAME_NOT_FOUND
from impacket.smbconnection import SessionError, SMBConnection


def cpu():
    t = os.times()
    return t.user + t.system


URL_RE = re.compile(r'^smb://([^/:]+)(?::(\d+))?/([^/]+)(?:/(.*))?$')

_local = threading.local()


def connection(host, port, per_share):
    if per_share:
        c = SMBConnection(host, host, sess_port=port, timeout=30)
        c.login('', '')
        return c, True
    conns = getattr(_local, 'conns', None)
    if conns is None:
        conns = _local.conns = {}
    c = conns.get((host, port))
    if c is None:
        c = SMBConnection(host, host, sess_port=port, timeout=30)
        c.login('', '')
        conns[(host, port)] = c
    return c, False


def readfile(c, share, path):
    buf = []
    c.getFile(share, path, buf.append)
    return b''.join(buf)


def crawl(url, per_share):
    m = URL_RE.match(url)
    if not m:
        raise ValueError('bad url %s' % url)
    host, port, share, path = m.group(1), int(m.group(2) or 445), \
        m.group(3), (m.group(4) or '').replace('/', '\\')
    c, own = connection(host, port, per_share)
    try:
        base = (path + '\\') if path else ''
        data = readfile(c, share, base + 'GLB\\MASTER.GLB')
        if len(data) != 176:
            raise RuntimeError('MASTER.GLB is %d bytes' % len(data))
        nrec = 0
        try:
            nw = readfile(c, share, base + 'GLB\\NETWORK.GLB')
        except SessionError as e:
            if e.getErrorCode() != STATUS_OBJECT_NAME_NOT_FOUND:
                raise
            nw = b''
        ids = [nw[i + 13:i + 22].split(b'\0')[0].decode('ascii')
               for i in range(0, len(nw) - 121, 122)]
        for i in ids:
            if i:
                readfile(c, share, base + 'XTN\\' + i + '.XTN')
                nrec += 1
        return nrec
    finally:
        if own:
            c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-t', '--threads', type=int, default=8)
    ap.add_argument('--per', choices=('share', 'server'), default='server')
    ap.add_argument('urls')
    a = ap.parse_args()
    with open(a.urls) as f:
        urls = [line.strip() for line in f if line.strip()]
    cpu0 = cpu()
    t0 = time.monotonic()
    ok = failed = 0
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        futs = [ex.submit(crawl, u, a.per == 'share') for u in urls]
        for u, fu in zip(urls, futs):
            try:
                fu.result()
                ok += 1
            except Exception as e:
                failed += 1
                if failed <= 5:
                    sys.stderr.write('impacket_crawl: %s: %s\n' % (u, e))
    dt = time.monotonic() - t0
    print('impacket: %d locations, %d ok, %d failed, %.3f s, %.1f crawls/s, '
          'cpu %.2f s (%.2f s before the first crawl)'
          % (len(urls), ok, failed, dt, len(urls) / dt, cpu(), cpu0))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
