#!/usr/bin/env python3
"""Serve a test estate of postoffices from private smbds on 127.0.0.1.

    smbfarm.py BUILD-DIR WORKDIR [--servers N] [--shares M]
               [--folders K] [--routes R]

Writes M shares per server (PO001 ...), each a postoffice written by the
build's mkpostoffice with R routes (so NETWORK.GLB and R XTN files), and
starts N private smbd (tests/integration/harness.py: own smb.conf and state
directories, a free loopback port, SMB1 to SMB3, guest access).  With
--folders K each server has instead one share MAIL holding K postoffice
folders (PO00001 ...), and every folder is a location of its own.

When the servers accept connections it writes WORKDIR/urls (one location
URL a line, server by server), WORKDIR/ports (one port a line) and then
WORKDIR/ready, and waits until it gets SIGTERM, SIGINT or SIGHUP; then it
stops every smbd and helper it
started (the harness also does so if this process dies) and exits.  The
postoffice trees are left in WORKDIR for the caller to remove.

Only 127.0.0.1 is used.  Needs root (smbd).
"""
import argparse
import concurrent.futures
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests',
                                'integration'))
import harness  # noqa: E402


def mkpo(mkpostoffice, path, net, po, serial, routes):
    argv = [mkpostoffice, '-N', net, '-P', po, '-s', serial]
    for r in range(routes):
        argv += ['--route', 'NET%d/HUB%d' % (r + 1, r + 1)]
    subprocess.run(argv + [path], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('workdir')
    ap.add_argument('--servers', type=int, default=5)
    ap.add_argument('--shares', type=int, default=100)
    ap.add_argument('--folders', type=int, default=0)
    ap.add_argument('--routes', type=int, default=2)
    a = ap.parse_args()

    os.environ['MAILDAT_BUILDDIR'] = os.path.abspath(a.build)
    mkpostoffice = harness.tool('mkpostoffice')
    work = os.path.abspath(a.workdir)
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)

    servers, urls = [], []
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: stop.set())
    pool = concurrent.futures.ThreadPoolExecutor(4)
    try:
        for s in range(a.servers):
            root = os.path.join(work, 'srv%d' % (s + 1))
            os.makedirs(root, exist_ok=True)
            os.chmod(root, 0o755)
            shares, locs, jobs = {}, [], []
            if a.folders > 0:
                mail = os.path.join(root, 'MAIL')
                for k in range(a.folders):
                    name = 'PO%05d' % (k + 1)
                    jobs.append((os.path.join(mail, name), name, k))
                shares['MAIL'] = mail
                locs = [('MAIL', 'PO%05d' % (k + 1))
                        for k in range(a.folders)]
            else:
                for k in range(a.shares):
                    name = 'PO%03d' % (k + 1)
                    path = os.path.join(root, name)
                    jobs.append((path, name, k))
                    shares[name] = path
                    locs.append((name, ''))
            for f in [pool.submit(mkpo, mkpostoffice, path, 'NET%d' % (s + 1),
                                  name, '%d-%05d' % (10 + s, k + 1), a.routes)
                      for path, name, k in jobs]:
                f.result()
            subprocess.run(['chmod', '-R', 'a+rX', root], check=True)
            smb = harness.Samba(os.path.join(root, 'smbd'), shares=shares,
                                log_level=0,
                                global_options={'max log size': '1000'})
            servers.append(smb)
            smb.start()
            urls += [smb.url(share, path) for share, path in locs]
            if stop.is_set():
                return 1
        with open(os.path.join(work, 'urls'), 'w') as f:
            f.write(''.join(u + '\n' for u in urls))
        with open(os.path.join(work, 'ports'), 'w') as f:
            f.write(''.join('%d\n' % s.port for s in servers))
        with open(os.path.join(work, 'ready'), 'w') as f:
            f.write('%d\n' % os.getpid())
        while not stop.wait(1.0):
            pass
        return 0
    finally:
        for smb in servers:
            try:
                smb.stop()
            except Exception as e:
                sys.stderr.write('smbfarm: stopping smbd: %s\n' % e)


if __name__ == '__main__':
    sys.exit(main())
