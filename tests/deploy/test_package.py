"""The Debian package (deploy/CMakeLists.txt, scripts/package.sh) as dpkg sees it: its
metadata and dependencies, its files, the config as conffiles, the maintainer scripts,
a stripped binary whose debug symbols are in the -dbgsym package under its build id,
and a systemd unit systemd accepts. Installing it is tested in the container image
(test_container.py), which is the package installed on Debian 12."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from deploy_support import REPO, package, run


@pytest.fixture(scope="module")
def deb():
    return package()


@pytest.fixture(scope="module")
def unpacked(deb):
    d = tempfile.mkdtemp(prefix="emqxd-deb-")
    try:
        run(["dpkg-deb", "-x", deb, os.path.join(d, "root")])
        run(["dpkg-deb", "-e", deb, os.path.join(d, "control")])
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def build_id(path):
    out = run(["readelf", "-n", path]).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert m, out
    return m.group(1)


def test_metadata_and_dependencies(deb):
    assert field(deb, "Package") == "emqxd"
    assert field(deb, "Architecture") == "amd64"
    version = re.search(r"project\(emqxd VERSION ([0-9.]+)",
                        open(os.path.join(REPO, "CMakeLists.txt")).read()).group(1)
    assert field(deb, "Version") == version
    # dpkg-shlibdeps found the shared libraries the binary links.
    depends = field(deb, "Depends")
    for lib in ("libc6", "libssl3", "libstdc++6", "libpq5", "libmariadb3", "adduser"):
        assert lib in depends, depends
    assert os.path.basename(deb) == "emqxd_%s_amd64.deb" % version


def test_files_where_debian_keeps_them(unpacked):
    root = os.path.join(unpacked, "root")
    for path in ("usr/bin/emqxd", "etc/emqxd/emqx.conf", "etc/emqxd/acl.conf",
                 "lib/systemd/system/emqxd.service", "usr/share/doc/emqxd/README.md",
                 "usr/share/doc/emqxd/docs/security.md", "usr/share/emqxd/grafana/emqxd.json"):
        assert os.path.isfile(os.path.join(root, path)), path
    assert os.access(os.path.join(root, "usr/bin/emqxd"), os.X_OK)
    # The shipped config is the documented one.
    assert open(os.path.join(root, "etc/emqxd/emqx.conf")).read() == \
        open(os.path.join(REPO, "deploy/emqx.conf")).read()
    # Nothing but the binary: no tests, benchmarks or libraries.
    assert os.listdir(os.path.join(root, "usr/bin")) == ["emqxd"]
    assert not os.path.exists(os.path.join(root, "usr/lib/emqxd"))


def test_the_installed_binary_runs(unpacked):
    out = run([os.path.join(unpacked, "root/usr/bin/emqxd"), "--version"]).stdout
    assert re.search(r"\d+\.\d+\.\d+", out), out


def test_config_files_are_conffiles_and_the_scripts_run_as_debian_wants(unpacked):
    control = os.path.join(unpacked, "control")
    assert open(os.path.join(control, "conffiles")).read().split() == \
        ["/etc/emqxd/emqx.conf", "/etc/emqxd/acl.conf"]
    for script in ("postinst", "prerm", "postrm"):
        p = os.path.join(control, script)
        assert os.access(p, os.X_OK), script
        assert run(["sh", "-n", p]).returncode == 0
    postinst = open(os.path.join(control, "postinst")).read()
    assert "adduser --system" in postinst and "/var/lib/emqxd" in postinst


def test_stripped_with_debug_symbols_apart(deb, unpacked):
    binary = os.path.join(unpacked, "root/usr/bin/emqxd")
    sections = run(["readelf", "-S", "-W", binary]).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections
    ddebs = glob.glob(os.path.join(os.path.dirname(deb), "emqxd-dbgsym_*_amd64.ddeb"))
    assert len(ddebs) == 1, ddebs
    d = tempfile.mkdtemp(prefix="emqxd-ddeb-")
    try:
        run(["dpkg-deb", "-x", ddebs[0], d])
        bid = build_id(binary)
        debug = os.path.join(d, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
        assert os.path.isfile(debug), run(["find", d, "-type", "f"]).stdout
        assert ".debug_info" in run(["readelf", "-S", "-W", debug]).stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # The stripped binary is a fraction of the one with symbols.
    assert os.path.getsize(binary) < os.path.getsize(
        os.path.join(os.path.dirname(os.path.dirname(deb)), "server", "emqxd")) / 2


def test_systemd_accepts_the_unit(unpacked):
    unit = os.path.join(unpacked, "root/lib/systemd/system/emqxd.service")
    text = open(unit).read()
    assert "ExecStart=/usr/bin/emqxd start -c /etc/emqxd/emqx.conf" in text
    assert "User=emqxd" in text and "LimitNOFILE=" in text and "KillSignal=SIGTERM" in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # Verified against the unpacked binary: systemd checks that ExecStart exists.
    d = tempfile.mkdtemp(prefix="emqxd-unit-")
    try:
        copy = os.path.join(d, "emqxd.service")
        binary = os.path.join(unpacked, "root/usr/bin/emqxd")
        open(copy, "w").write(text.replace("/usr/bin/emqxd", binary))
        p = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True,
                           timeout=60)
        # Warnings about this machine (no user emqxd, no systemd running) are not the
        # unit's; a syntax or unknown-key error is.
        bad = [line for line in (p.stdout + p.stderr).splitlines()
               if "emqxd.service" in line and ("Unknown" in line or "bad" in line.lower()
                                               or "Failed to parse" in line)]
        assert not bad, p.stdout + p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
