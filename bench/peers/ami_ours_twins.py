"""bench.ami peer: our reader with the Python twins in place of its compiled steps.

What hotline/ami/_speedups.c buys, measured in the same run: the same client, the same
handler, the same stream; only protocol.frame_messages and message.header_in_frame run in
Python (the reference each compiled step is tested against).
"""

import runpy
from pathlib import Path

from hotline.ami import message, protocol

protocol._frame_messages = protocol.frame_messages
message._header_in_frame = message.header_in_frame
runpy.run_path(str(Path(__file__).with_name("ami_ours.py")), run_name="__main__")
