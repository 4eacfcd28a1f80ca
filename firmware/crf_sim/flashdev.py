# File-backed block device for the virtual freezer's littlefs flash, so
# storage behaves like the device's and survives a restart of the process.
_BLOCK = 4096


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

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * _BLOCK + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:
            off = 0
        self.f.seek(n * _BLOCK + off)
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:   # block count
            return self.blocks
        if op == 5:   # block size
            return _BLOCK
        if op == 6:   # erase
            self.f.seek(arg * _BLOCK)
            self.f.write(b"\xff" * _BLOCK)
            return 0
        return 0 if op in (1, 2, 3) else None


def mount(path, mountpoint):
    """Mount (formatting on first use) the littlefs image at `path`; True if new."""
    import vfs
    dev = FileBlockDevice(path)
    fresh = False
    try:
        fs = vfs.VfsLfs2(dev)
    except OSError:
        vfs.VfsLfs2.mkfs(dev)
        fs = vfs.VfsLfs2(dev)
        fresh = True
    vfs.mount(fs, mountpoint)
    return fresh
