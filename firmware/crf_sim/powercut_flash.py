# The power-cut test, part 1 of 3 (run by crf_sim/powercut.py): the flash
# that loses power, and what the firmware asked to write.
import os
import time
import builtins
import binascii

BS = 4096                     # block size, as the virtual freezer's flash
MOUNT = "/flash"
RUNS = MOUNT + "/runs"
_BLANK = b"\xff" * BS
_M32 = 0xFFFFFFFF


class PowerCut(Exception):
    """The power failed: raised by the block device at the cut."""


class Rng:
    """xorshift32: the whole test is a function of the seed."""

    def __init__(self, seed):
        s = (seed * 2654435761 + 0x9E3779B9) & _M32
        self.s = s or 1
        for _ in range(8):
            self.next()

    def next(self):
        x = self.s
        x ^= (x << 13) & _M32
        x ^= x >> 17
        x ^= (x << 5) & _M32
        self.s = x
        return x

    def below(self, n):
        return self.next() % n if n > 0 else 0

    def between(self, a, b):
        return a + self.below(b - a + 1)

    def chance(self, per_mille):
        return self.next() % 1000 < per_mille

    def real(self, a, b):
        return a + (b - a) * (self.next() / 4294967296.0)


class FlashImage:
    """The flash's bytes: a file in RAM (tmpfs) rather than a bytearray, as
    an image worth filling would take most of the 128 KiW heap the firmware
    must run in. Shared by the block devices of successive boots."""

    def __init__(self, blocks, cached=8):
        self.blocks = blocks
        # Copies of the blocks read most recently (littlefs reads its
        # metadata pairs over and over, in small pieces): kept equal to the
        # file by every program and erase, torn ones included.
        self.slot_of = {}          # block -> slot
        self.block_in = [-1] * cached
        self.used = [0] * cached
        self.slots = [bytearray(BS) for _ in range(cached)]
        self.clock = 0
        self.path = None
        for d in ("/dev/shm", "/tmp"):
            try:
                os.stat(d)
            except OSError:
                continue
            self.path = "%s/crf-powercut-%d.img" % (d, time.ticks_us() & 0xFFFFFF)
            break
        self.f = builtins.open(self.path, "w+b")
        os.remove(self.path)       # gone with the process, however it ends
        for _ in range(blocks):
            self.f.write(_BLANK)

    def close(self):
        self.f.close()

    def cached(self, n):
        """The copy of block n, read in if need be."""
        self.clock += 1
        i = self.slot_of.get(n)
        if i is None:
            used = self.used
            i = 0
            for j in range(1, len(used)):
                if used[j] < used[i]:
                    i = j
            old = self.block_in[i]
            if old >= 0:
                del self.slot_of[old]
            self.f.seek(n * BS)
            self.f.readinto(self.slots[i])
            self.block_in[i] = n
            self.slot_of[n] = i
        self.used[i] = self.clock
        return self.slots[i]

    def put(self, n, off, data, k):
        """data[:k] at offset off of block n, in the file and any copy."""
        f = self.f
        f.seek(n * BS + off)
        f.write(data if k == len(data) else memoryview(data)[:k])
        i = self.slot_of.get(n)
        if i is not None:
            self.slots[i][off:off + k] = data if k == len(data) else memoryview(data)[:k]


class CutBlockDevice:
    """littlefs block device over a FlashImage (the protocol of
    flashdev.FileBlockDevice, erase included) that loses power: the
    cut_after-th program or erase is torn -- only a random prefix of it
    reaches the image, down to the byte -- and raises PowerCut; after that
    every program and erase is refused: raising PowerCut, or once `drop` is
    set failing with EIO, reads too, so that what the old filesystem still
    has open can be closed without touching the image."""

    def __init__(self, image, rng, cut_after):
        self.image = image
        self.blocks = image.blocks
        self.rng = rng
        self.left = cut_after      # operations until the cut; 0: never
        self.dead = False
        self.drop = False
        self.ops = 0
        self.cut = None            # (kind, bytes that reached the flash, bytes asked)

    def _due(self):
        self.ops += 1
        if self.left:
            self.left -= 1
            return self.left == 0
        return False

    def _dead(self):
        if not self.drop:
            raise PowerCut()
        # the old filesystem, being closed after the cut: an I/O error makes
        # littlefs give up at once (a write it could not verify would send it
        # relocating around the flash)
        return -5

    def readblocks(self, n, buf, off=0):
        if self.drop:
            return -5              # (and allocates nothing: may run in a finaliser)
        buf[:] = memoryview(self.image.cached(n))[off:off + len(buf)]

    def writeblocks(self, n, buf, off=None):
        if self.dead:
            return self._dead()
        m = len(buf)
        if self._due():
            k = self.rng.below(m + 1)
            self.image.put(n, off or 0, buf, k)
            self.dead = True
            self.cut = ("prog", k, m)
            raise PowerCut()
        self.image.put(n, off or 0, buf, m)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return BS
        if op == 6:
            if self.dead:
                return self._dead()
            if self._due():
                k = self.rng.below(BS + 1)
                self.image.put(arg, 0, _BLANK, k)
                self.dead = True
                self.cut = ("erase", k, BS)
                raise PowerCut()
            self.image.put(arg, 0, _BLANK, BS)
            return 0
        return 0 if op in (1, 2, 3) else None


# -- what the firmware has open, what it acknowledged ---------------------

class Tracker:
    """Takes the place of `open` inside crf.record.runlog (the files are the
    real ones): knows what the RunLog has opened for writing, to close it
    after a cut (files only read have nothing to write back; holding on to
    them would keep their buffers from the heap)."""

    def __init__(self):
        self.files = []

    def open(self, path, mode="r"):
        f = builtins.open(path, mode)
        if "w" in mode or "a" in mode:
            self.files.append(f)
        return f


class Expect:
    """One run as acknowledged to the harness: its header, sample and event
    records (bytes the harness packs itself from what it asked to write),
    as a count and a CRC-32; digests are the writer's and are checked by
    reader.scan instead."""

    def __init__(self):
        self.n = 0
        self.crc = 0
        self.sealed = False
        self.status = None
        self.host_acked = False
        self.snap = None           # (size, CRC-32) of the file once verified sealed
        self.last = []             # the last few records, to say which one is missing

    def add(self, rec):
        self.n += 1
        self.crc = binascii.crc32(rec, self.crc)
        last = self.last
        if len(last) >= 4:
            last.pop(0)
        last.append(rec)
