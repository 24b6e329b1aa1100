"""What the deploy tests share: where the repository and the build are, the Debian
package made from the build under test (scripts/package.sh), and podman as this machine
runs it (runc, explicit limits; docs/contributing.md, "Containers")."""
import functools
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
EMQXD_BIN = os.environ.get("EMQXD_BIN", os.path.join(REPO, "build", "server", "emqxd"))
BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(EMQXD_BIN)))

PODMAN = ["podman", "--runtime", "/usr/sbin/runc"]
LIMITS = ["--ulimit", "nofile=1024:20000", "--ulimit", "nproc=1024:4096"]
BASE_IMAGE = "localhost/emqxd-debian:12"


def run(argv, timeout=120, check=True, **kw):
    """Runs argv; returns its CompletedProcess (stdout and stderr as text)."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s\n%s" % (" ".join(argv), p.returncode,
                                                     p.stdout[-3000:], p.stderr[-3000:]))
    return p


@functools.lru_cache(maxsize=None)
def package():
    """The .deb of the build under test (made by scripts/package.sh from BUILD_DIR, of
    the binary as it is: the one the other tests ran); made once a process."""
    out = run([os.path.join(REPO, "scripts", "package.sh"), "--no-build", BUILD_DIR],
              timeout=600).stdout
    deb = out.strip().splitlines()[-1]
    return os.path.join(REPO, deb) if not os.path.isabs(deb) else deb
