# Power-cut test of the run log on littlefs, under MicroPython:
#   micropython -X heapsize=128wK firmware/crf_sim/powercut.py [--cuts N] [--seed S]
#       [--blocks B (64)] [--verbose]
#
# The firmware's RunLog writes run records to a littlefs image in RAM (a
# tmpfs file, so the image stays off the firmware's heap).
# After a random number of block-device operations the power fails: the
# program or erase in progress is torn (only a random prefix of it reaches
# the flash), the firmware call stops with PowerCut, and the device takes
# no further writes. Then the freezer "reboots": a fresh littlefs over the
# same bytes, a new RunLog, recover(), and checks:
#   - the filesystem mounts;
#   - every record acknowledged as written before the cut (the RunLog call
#     that wrote it had returned) is there, byte for byte;
#   - after recover() every run the cut or the recovery touched verifies to
#     its end (CRCs, digest chain, seal), an interrupted run ends in
#     power_restored, and what lies past the acknowledged end is records the
#     cut call or the recovery wrote, nothing else.
# The last line printed is "powercut: cuts=N lost=L corrupt=C"; the exit
# status is 1 if L or C is not 0 (2 for bad options).
# The parts: powercut_flash.py (the flash that loses power, what was
# written), powercut_check.py (the checks), powercut_run.py (the workload,
# the cuts and reboots).
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_FIRMWARE = _HERE.rsplit("/", 1)[0] if "/" in _HERE else ".."
if _FIRMWARE not in sys.path:
    sys.path.append(_FIRMWARE)      # after MICROPYPATH: build/mpy when the host set it

from crf_sim import powercut_run

sys.exit(powercut_run.main(sys.argv[1:], _FIRMWARE))
