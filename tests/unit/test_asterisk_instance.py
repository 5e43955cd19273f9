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
