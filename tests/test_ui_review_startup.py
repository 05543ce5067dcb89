"""The review screen's first frame, in a real terminal (`stanceterm review` in a pty).

Textual composes the first screen inside its start-up batch and drops that frame, while its
compositor takes it as shown: the annotation screen lost its top bar to that until it repainted
every child after the batch (tests/test_ui_startup.py). The review screen is checked the same
way: the first update that shows the sentence must be the whole screen (top bar, sentence,
versions, progress line).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import label_for_review, make_db, run_in_pty

ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07"

# The real CLI; every terminal write that shows the first sentence is logged with what else it
# carries (the top bar, the versions, the progress line).
_WRAPPER = """
import re, sys
from textual.drivers.linux_driver import LinuxDriver
write = LinuxDriver.write
ANSI = re.compile({ansi!r})
def spy(self, data):
    plain = ANSI.sub("", data)
    if "cosmodrome" in plain:
        parts = [name for name, needle in (("top", "stanceterm review"), ("versions", "alice"),
                 ("progress", "reviewed")) if needle in plain]
        with open(sys.argv[1], "a") as fh:
            fh.write("SENTENCE " + "+".join(parts) + "\\n")
    return write(self, data)
LinuxDriver.write = spy
import stanceterm.cli
stanceterm.cli.main(sys.argv[2:])
"""


def test_the_review_screen_paints_its_whole_first_frame(tmp_path: Path) -> None:
    db_path = tmp_path / "r.db"
    store = make_db(db_path)
    label_for_review(store)
    store.close()
    log = tmp_path / "frames.log"
    argv = ["-c", _WRAPPER.format(ansi=ANSI), str(log), "--db", str(db_path), "review"]
    out = run_in_pty([*argv, "--annotator", "carol"], log, until="SENTENCE", linger=1.5)
    lines = log.read_text().splitlines() if log.exists() else []
    # (judged on what the app hands to the terminal: under load, the pty may not have carried
    # the whole frame yet when the test stops reading)
    assert lines, f"the sentence never reached the terminal: {re.sub(ANSI, '', out)[-2000:]!r}"
    assert lines[0] == "SENTENCE top+versions+progress", lines
