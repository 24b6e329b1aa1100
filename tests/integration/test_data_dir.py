"""node.data_dir's permissions: created 0700 with 0600 files (RocksDB's too), so that
other users of the machine cannot read stored sessions and messages; a directory the
operator made wider is left as it is, with a warning."""
import os
import stat

from conftest import wait_for
from rawmqtt import connected, V5


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_dir_is_created_0700_with_0600_files(make_broker):
    b = make_broker()
    data = b.env["EMQX_NODE__DATA_DIR"]
    # Something stored: a retained message.
    c = connected(b, "perm-pub", V5)
    c.publish("perm/t", b"kept", qos=1, retain=True, pid=1)
    c.close()
    assert wait_for(lambda: os.path.isdir(os.path.join(data, "rocksdb")), 5)
    assert b.stop() == 0
    assert mode(data) == 0o700
    files = dirs = 0
    for root, dnames, fnames in os.walk(data):
        for d in dnames:
            assert mode(os.path.join(root, d)) == 0o700, d
            dirs += 1
        for f in fnames:
            assert mode(os.path.join(root, f)) & 0o077 == 0, (f, oct(mode(os.path.join(root, f))))
            files += 1
    assert dirs >= 1 and files >= 3
    assert "has mode" not in b.read_log()


def test_a_wider_existing_data_dir_is_kept_and_warned_about(make_broker, tmp_path):
    data = tmp_path / "shared-data"
    data.mkdir()
    os.chmod(data, 0o750)
    b = make_broker(env={"EMQX_NODE__DATA_DIR": str(data)})
    assert "node.data_dir %s has mode 0750" % data in b.read_log()
    assert b.stop() == 0
    assert mode(data) == 0o750  # the operator's choice stands
    assert mode(data / "rocksdb") == 0o700  # what emqxd made inside is its own
