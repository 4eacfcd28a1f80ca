# Small file helpers the run log, its reader, the audit log and the link
# share, kept apart so the reader (the boot scan) need not stay loaded.
import os


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def read_at(f, buf, off, n):
    """Read n bytes at offset off of file f into buf (bytearray or
    memoryview); the count read, short only at the end of the file."""
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    f.seek(off)
    got = 0
    while got < n:
        k = f.readinto(mv[got:n])
        if not k:
            break
        got += k
    return got


def copy_file(src, dst, n=-1):
    """Copy the first n bytes of file src (all if n < 0) to a new file dst,
    512 bytes at a time."""
    mv = memoryview(bytearray(512))
    with open(src, "rb") as f:
        with open(dst, "wb") as out:
            while n:
                k = f.readinto(mv if n < 0 or n >= 512 else mv[:n])
                if not k:
                    break
                out.write(mv[:k])
                if n > 0:
                    n -= k
