#!/usr/bin/python3
"""Crawl postoffice locations with impacket, in a thread pool.

    /usr/bin/python3 impacket_crawl.py [-t THREADS] [--per share|server] URLS

URLS is a file with one smb://HOST:PORT/SHARE[/PATH] a line.  Each
location is read as maildatd reads it: list the folder, find GLB (any
case), list GLB, read MASTER.GLB and NETWORK.GLB, list XTN, read every
XTN file.  Anonymous session.  With --per server (the default) each thread
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

from impacket.smbconnection import SMBConnection


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


def find(entries, name, isdir):
    for e in entries:
        if e.get_longname().upper() == name and bool(e.is_directory()) == isdir:
            return e.get_longname()
    return None


def listdir(c, share, path):
    pattern = (path + '\\*') if path else '*'
    return [e for e in c.listPath(share, pattern)
            if e.get_longname() not in ('.', '..')]


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
        top = listdir(c, share, path)
        glb = find(top, 'GLB', True)
        if glb is None:
            raise RuntimeError('no GLB')
        glbpath = (path + '\\' if path else '') + glb
        glbents = listdir(c, share, glbpath)
        master = find(glbents, 'MASTER.GLB', False)
        if master is None:
            raise RuntimeError('no MASTER.GLB')
        data = readfile(c, share, glbpath + '\\' + master)
        if len(data) != 176:
            raise RuntimeError('MASTER.GLB is %d bytes' % len(data))
        nrec = 0
        network = find(glbents, 'NETWORK.GLB', False)
        if network is not None:
            nw = readfile(c, share, glbpath + '\\' + network)
            ids = [nw[i + 13:i + 22].split(b'\0')[0].decode('ascii')
                   for i in range(0, len(nw) - 121, 122)]
            ids = [i for i in ids if i]
            if ids:
                xtn = find(top, 'XTN', True)
                xtnpath = (path + '\\' if path else '') + xtn
                xents = listdir(c, share, xtnpath)
                for i in ids:
                    f = find(xents, i.upper() + '.XTN', False)
                    if f is None:
                        raise RuntimeError('no %s.XTN' % i)
                    readfile(c, share, xtnpath + '\\' + f)
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
