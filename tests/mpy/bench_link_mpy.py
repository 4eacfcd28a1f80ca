# Cost of the link server per loop pass on the MicroPython unix port:
#   make mpy; sleep 60 | MICROPYPATH=build/mpy:firmware micropython -X heapsize=128wK tests/mpy/bench_link_mpy.py
# (stdin an idle pipe: the "stdin poll" figure polls it as the virtual board does)
# Prints the median time of server.service() when idle (nothing on the line)
# and when it answers one log_fetch of 2040 bytes of the open run's record
# (file part and journal part), plus the heap the server holds. Not a test.
import gc
import os
import time

for _m in ("crf.record.runlog", "crf.link.server", "crf.app"):
    __import__(_m)
    gc.collect()

from crf.app import App
from crf.link import frame as F
from crf_sim.board_virtual import VirtualBoard
from crf_sim.plant import Plant
from crf_sim.plantfile import load_plant
from crf_sim.flashdev import FileBlockDevice

_IMG = "/tmp/crf-bench-link-%s.img" % "".join("%02x" % b for b in os.urandom(4))


class Board(VirtualBoard):
    def __init__(self, plant):
        VirtualBoard.__init__(self, plant, 0.0)
        self.inb = b""
        self.sent = 0

    def link_read(self, buf):
        n = min(len(buf), len(self.inb))
        if n:
            buf[:n] = self.inb[:n]
            self.inb = self.inb[n:]
        return n

    def link_write(self, data):
        self.sent += len(data)


def _median(xs):
    xs.sort()                       # in place: no second list
    return xs[len(xs) // 2]


def main():
    import vfs
    dev = FileBlockDevice(_IMG, 256)
    vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256), "/flash")
    os.mkdir("/flash/profiles")
    with open("firmware/profiles/hpc_bag.json") as f:
        text = f.read()
    with open("/flash/profiles/hpc_bag.json", "w") as f:
        f.write(text)
    board = Board(Plant(load_plant("firmware/crf_sim/plants/bag_50ml.json"), 7))
    xs = [0] * 1000                     # one preallocated list for every series: the heap is small
    gc.collect()
    m0 = gc.mem_alloc()
    app = App(board)
    gc.collect()
    print("App with its link server: %d bytes of heap (server buffers: decoder %d, out %d, chunk %d, rx %d)"
          % (gc.mem_alloc() - m0, F.MAX_WIRE, F.MAX_WIRE, F.MAX_PAYLOAD, 256))
    app.pass_once()
    app.wait_next_pass()
    app.start_run("hpc_bag", "B-bench", "", "ann")
    for _ in range(6000):               # 10 virtual minutes: a record of several KB
        app.pass_once()
        app.wait_next_pass()
    srv = app.link
    t = time.ticks_us
    d = time.ticks_diff
    for i in range(1000):
        t0 = t()
        srv.service()
        xs[i] = d(t(), t0)
    idle = _median(xs)
    read = board.link_read              # idle through the virtual board's own stdin poll
    board.link_read = lambda buf: VirtualBoard.link_read(board, buf)
    for i in range(1000):
        t0 = t()
        srv.service()
        xs[i] = d(t(), t0)
    real = _median(xs)
    board.link_read = read
    log = app.log
    size = log.size(1)
    off = size - 2040 - 100             # spans the file and the journal records
    print("record %d bytes, %d of them in the journal" % (size, log._jn))
    for i in range(300):
        board.inb = b"\x00" + F.encode(F.KIND_REQUEST, 1 + i, F.COMMANDS["log_fetch"],
                                       F.pack_json({"run": 1, "offset": off, "n": 2040}))
        sent = board.sent
        t0 = t()
        srv.service()
        xs[i] = d(t(), t0)
        assert board.sent - sent >= 2040 + 12, "no full chunk sent"
    fetch = _median(xs[:300])
    for i in range(300):
        board.inb = b"\x00" + F.encode(F.KIND_REQUEST, 5000 + i, F.COMMANDS["status"])
        t0 = t()
        srv.service()
        xs[i] = d(t(), t0)
    status = _median(xs[:300])
    print("server.service() per pass, median us: idle %d (%d with the stdin poll), "
          "log_fetch 2040 B %d, status %d"
          % (idle, real, fetch, status))
    vfs.umount("/flash")
    os.remove(_IMG)


main()
