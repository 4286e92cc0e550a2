#!/usr/bin/env python3
"""Run maildatd once against a demo estate served by a private Samba.

The estate: two Exchange MS Mail Connector postoffices that both carry the
connector serial 22-28798 (the Event 4188 collision), a Windows for
Workgroups postoffice, an ordinary MS Mail postoffice with routes, and a
damaged one.  Alerts go to a syslog socket the demo listens on.
Everything runs on 127.0.0.1 and is removed at the end.
"""
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
import harness  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, 'build',
                                                           'demo')
os.environ['MAILDAT_BUILDDIR'] = BUILD


def tool(name):
    return harness.tool(name)


def sh(argv, check=True):
    r = subprocess.run(argv, text=True, capture_output=True)
    if check and r.returncode not in (0, 1):
        sys.exit('%s failed (%d): %s' % (argv[0], r.returncode, r.stderr))
    return r


def mkpo(path, *args):
    sh([tool('mkpostoffice')] + list(args) + [path])


def section(title):
    print('\n== %s\n' % title)


def main():
    work = harness.make_workdir(prefix='maildat-demo-')
    try:
        ex1 = os.path.join(work, 'ex1-maildat')
        ex2 = os.path.join(work, 'ex2-maildat')
        mail = os.path.join(work, 'mail')
        # Two Exchange servers' connector postoffices: same serial.
        mkpo(ex1, '-N', 'CORP', '-P', 'EXCH1', '-s', '22-28798',
             '--route', 'CORP/HQ', '--route', 'CORP/BRANCH')
        mkpo(ex2, '-N', 'CORP', '-P', 'EXCH2', '-s', '22-28798',
             '--route', 'CORP/HQ')
        # A file server with a WGPO, a real postoffice and a damaged one.
        mkpo(os.path.join(mail, 'WGPO0000'), '--wgpo', '-N', 'WG',
             '-P', 'OFFICE')
        mkpo(os.path.join(mail, 'MAILDATA'), '-N', 'CORP', '-P', 'HQ',
             '-s', '32-64537', '--route', 'CORP/EXCH1:16',
             '--route', 'CORP/BRANCH', '--gateway', 'SMTP:12')
        mkpo(os.path.join(mail, 'OLDPO'), '-N', 'CORP', '-P', 'OLD',
             '-s', '41-10203', '--damage', 'master-short')
        for d in (ex1, ex2, mail):
            os.chmod(d, 0o755)

        with harness.Samba(os.path.join(work, 'smb1'),
                           shares={'MAILDAT$': ex1, 'mail': mail}) as a, \
                harness.Samba(os.path.join(work, 'smb2'),
                              shares={'MAILDAT$': ex2}) as b, \
                harness.SyslogReceiver(work) as slog:
            dbdir = os.path.join(work, 'db')
            os.makedirs(dbdir)
            os.chmod(dbdir, 0o777)
            db = os.path.join(dbdir, 'maildat.db')
            conf = os.path.join(work, 'maildatd.conf')
            with open(conf, 'w') as f:
                f.write('[maildatd]\n'
                        'database = %s\n'
                        'workers = 2\n'
                        'timeout = 10s\n'
                        'control_socket = %s/control.sock\n'
                        'syslog = unix:%s\n'
                        'user = nobody\n'
                        '\n[target exchange]\n'
                        'url = %s\n'
                        'url = %s\n'
                        '\n[target fileserver]\n'
                        'url = %s\n'
                        % (db, dbdir, slog.path, a.url('MAILDAT$'),
                           b.url('MAILDAT$'), a.url('mail')))
            section('the configuration (%s)' % conf)
            print(open(conf).read())
            section('maildatd -d --once: one crawl round')
            r = subprocess.run([tool('maildatd'), '-d', '-c', conf,
                                '--once'], text=True, capture_output=True,
                               timeout=120)
            sys.stdout.write(r.stderr)
            print('(exit status %d: 1 means some location did not crawl '
                  'cleanly -- here, the damaged postoffice)' % r.returncode)
            section('the alerts, as the syslog server receives them')
            slog.wait_for('duplicate-serial', timeout=5)
            for m in slog.messages():
                print(m)
            ctl = [tool('maildatctl'), '--db', db]
            section('maildatctl postoffices: the inventory')
            sys.stdout.write(sh(ctl + ['postoffices']).stdout)
            section('maildatctl routes')
            sys.stdout.write(sh(ctl + ['routes']).stdout)
            section('maildatctl crawls')
            sys.stdout.write(sh(ctl + ['crawls']).stdout)
            section('maildatctl alerts')
            sys.stdout.write(sh(ctl + ['alerts']).stdout)
            q = ("SELECT serial, count(*) AS postoffices, "
                 "group_concat(address || ' on ' || location, ', ') AS "
                 "where_found FROM postoffices GROUP BY serial_raw "
                 "HAVING count(DISTINCT address) > 1")
            section('the Event 4188 collision, as plain SQL over the views')
            print('maildatctl query "%s"\n' % q)
            sys.stdout.write(sh(ctl + ['query', q]).stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('\ndemo finished; the private Samba servers are stopped and the '
          'demo files removed.')


if __name__ == '__main__':
    main()
