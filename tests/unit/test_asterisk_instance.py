"""The Asterisk instance's pure parts."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from hotline.asterisk.instance import AsteriskError, asterisk_view


def test_asterisk_view() -> None:
    assert asterisk_view(Path("/srv/rec"), Path("/")) == PurePosixPath("/srv/rec")
    assert asterisk_view(Path("/var/cache/h/root/rec"), Path("/var/cache/h/root")) == PurePosixPath("/rec")
    with pytest.raises(AsteriskError, match="outside Asterisk's chroot"):
        asterisk_view(Path("/srv/rec"), Path("/var/cache/h/root"))


def test_the_chroot_names_this_host_once(tmp_path: Path) -> None:
    """Asterisk resolves this host's name for every call's RTCP: the chroot's hosts file must answer it (no DNS)."""
    import socket

    from hotline.asterisk.instance import name_this_host

    hosts = tmp_path / "hosts"
    name_this_host(hosts)  # debootstrap's root has none
    name_this_host(hosts)
    lines = hosts.read_text().splitlines()
    assert lines == ["127.0.0.1\tlocalhost", f"127.0.1.1\t{socket.gethostname()}"]
    hosts.write_text(f"127.0.0.1 localhost {socket.gethostname()}\n")  # already named: left as it is
    name_this_host(hosts)
    assert hosts.read_text() == f"127.0.0.1 localhost {socket.gethostname()}\n"
