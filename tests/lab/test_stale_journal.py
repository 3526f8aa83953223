"""A lab journal that outlived its lab (a crash) must not tear down another lab that now holds the same tag."""

import json
import os
import subprocess

import pytest

from fixtures.lab import Lab

SCENARIO = {"name": "owner", "hosts": [{"name": "h1", "shape": "host"}]}


@pytest.mark.needs_lab
def test_stale_journal_for_a_reused_tag_leaves_the_owner_alone(tmp_path, lab_factory):
    live = lab_factory(SCENARIO, dir=tmp_path / "live")
    stale = tmp_path / "stale"
    # The journal of a crashed lab that once had this tag: same tag-named resources, its own folder, another owner.
    state = json.loads((live.dir / "state.json").read_text().replace(str(live.dir), str(stale)))
    state["info"]["owner"] = "crashed-lab"
    stale.mkdir()
    (stale / "state.json").write_text(json.dumps(state))

    Lab(stale).down()

    assert not stale.exists()
    namespaces = os.listdir("/run/netns")
    assert all(d["netns"] in namespaces for d in live.details.values())
    alive = subprocess.run(
        ["ssh", "-F", str(live.ssh_config), "h1", "hostname"], capture_output=True, text=True, timeout=30
    )
    assert alive.stdout.strip() == "h1", alive.stderr
