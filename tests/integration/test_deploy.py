"""docker-compose.yml stays true to the native path (no Docker engine here to run it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hotline.asterisk.instance import Instance
from hotline.asterisk.provision import PACKAGES, find_or_provision
from hotline.cli import parser
from hotline.settings import REPO_ROOT, Settings
from tests.helpers import realparts

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (REPO_ROOT / "deploy" / "Dockerfile").read_text()


def test_images_install_the_same_asterisk_packages_as_provisioning() -> None:
    for package in PACKAGES:
        assert re.search(rf"\b{re.escape(package)}\b", DOCKERFILE), f"deploy/Dockerfile lacks {package}"


def test_compose_commands_are_real_cli_commands() -> None:
    for name, service in COMPOSE["services"].items():
        command = service.get("command")
        if command and command[0] == "hotline":
            parser().parse_args(command[1:])  # SystemExit on an unknown subcommand or flag
        assert name in ("asterisk", "bridge", "postgres", "redis")


def test_compose_mounts_asterisk_conf_where_the_image_reads_it() -> None:
    conf = re.search(r"HOTLINE_ASTERISK_CONF=(\S+)", DOCKERFILE)
    assert conf is not None
    assert f"./asterisk-conf:{conf.group(1)}:ro" in COMPOSE["services"]["asterisk"]["volumes"]
    assert COMPOSE["services"]["bridge"]["network_mode"] == "service:asterisk"  # AMI stays on loopback


@pytest.mark.asterisk
def test_foreground_entrypoint_boots_asterisk(settings: Settings) -> None:
    """The container's command, run natively: Asterisk in the foreground with the project's etc."""
    # an instance and ports of this test worker's own (50 above its Asterisk's: never another worker's, which are
    # 100 apart, tests/helpers/realparts.py)
    name, ami, sip = f"fg-{realparts.WORKER or 'main'}", realparts.AMI_PORT + 50, realparts.SIP_PORT + 50
    fg = settings.model_copy(update={"asterisk_instance": name, "ami_port": ami, "sip_port": sip})
    instance = Instance(find_or_provision(fg), fg)
    instance.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_STATE_DIR=str(fg.state_dir), HOTLINE_ASTERISK_INSTANCE=name, HOTLINE_AMI_PORT=str(ami),
        HOTLINE_SIP_PORT=str(sip), HOTLINE_ASTERISK_CACHE=str(fg.asterisk_cache),
    )  # fmt: skip
    bin_dir = Path(sys.executable).parent
    proc = subprocess.Popen([str(bin_dir / "hotline"), "asterisk", "foreground"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        instance.wait_booted(timeout=30)
        assert proc.poll() is None, "asterisk -f exited"
        assert "hotline has" in instance.cli("queue show hotline")
    finally:
        instance.stop()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
