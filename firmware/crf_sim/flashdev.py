# File-backed block device for the virtual freezer's littlefs flash, so
# storage behaves like the device's and survives a restart of the process.
from time import ticks_us as _ticks_us, ticks_diff as _ticks_diff

_BLOCK = 4096
_ERASE_PIECE = 512      # an erase writes 0xFF in pieces: no 4 KB buffer in the heap


class FileBlockDevice:
    def __init__(self, path, blocks=256):
        self.path = path
        self.blocks = blocks
        try:
            f = open(path, "r+b")
            f.seek(0, 2)
            if f.tell() != blocks * _BLOCK:
                f.close()
                raise OSError("size")
        except OSError:
            f = open(path, "w+b")
            blank = b"\xff" * _BLOCK
            for _ in range(blocks):
                f.write(blank)
            f.flush()
        self.f = f
        self.fresh = False
        self._blank = b"\xff" * _ERASE_PIECE   # allocated once: erases happen every few seconds
        # wear figures: program operations, bytes programmed, block erases
        self.progs = 0
        self.prog_bytes = 0
        self.erases = 0
        self.emu_us = 0

    # Time spent here is emulation: on the Pico reads are memory-mapped
    # copies in C. Benchmarks subtract it (emu_us) from the firmware's time.
    def readblocks(self, n, buf, off=0):
        t0 = _ticks_us()
        self.f.seek(n * _BLOCK + off)
        self.f.readinto(buf)
        self.emu_us += _ticks_diff(_ticks_us(), t0)

    def writeblocks(self, n, buf, off=None):
        t0 = _ticks_us()
        if off is None:
            off = 0
        self.f.seek(n * _BLOCK + off)
        # No flush: on the unix port that is an fsync of the host disk. The
        # write() has reached the kernel, so it outlives a killed process.
        self.f.write(buf)
        self.progs += 1
        self.prog_bytes += len(buf)
        self.emu_us += _ticks_diff(_ticks_us(), t0)

    def ioctl(self, op, arg):
        if op == 4:   # block count
            return self.blocks
        if op == 5:   # block size
            return _BLOCK
        if op == 6:   # erase
            t0 = _ticks_us()
            self.f.seek(arg * _BLOCK)
            for _ in range(_BLOCK // _ERASE_PIECE):
                self.f.write(self._blank)
            self.erases += 1
            self.emu_us += _ticks_diff(_ticks_us(), t0)
            return 0
        return 0 if op in (1, 2, 3) else None


def mount(path, mountpoint):
    """Mount (formatting on first use) the littlefs image at `path`; the device."""
    import vfs
    dev = FileBlockDevice(path)
    fresh = False
    # Mounted as the rp2 port mounts its flash (progsize 256: the run log's
    # journal relies on the inline-file size that follows from it).
    try:
        fs = vfs.VfsLfs2(dev, progsize=256)
    except OSError:
        vfs.VfsLfs2.mkfs(dev, progsize=256)
        fs = vfs.VfsLfs2(dev, progsize=256)
        fresh = True
    vfs.mount(fs, mountpoint)
    dev.fresh = fresh
    return dev
