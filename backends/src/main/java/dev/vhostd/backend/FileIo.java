package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.IoVec;
import dev.vhostd.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Synchronous file I/O for one queue: the whole engine for aio=sync, and the fallback of the
 * io_uring engine (short transfers, unsupported fallocate modes, misaligned O_DIRECT buffers).
 * Buffers are preallocated or grown once, so steady-state operations allocate nothing.
 *
 * <p>O_DIRECT needs every buffer address and length aligned to the logical block size. Guest
 * buffers that are not (or that are not native memory) go through an aligned bounce buffer in
 * {@value #BOUNCE_SIZE}-byte chunks: slower, but the guest sees correct data rather than EINVAL.
 */
final class FileIo implements AutoCloseable {
    /** Linux IOV_MAX: a longer scatter list is transferred in several calls. */
    static final int IOV_MAX = 1024;
    static final int BOUNCE_SIZE = 1 << 20;

    private final FileBackend backend;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final IoVec iov = new IoVec(arena, IOV_MAX);
    private final MemorySegment discardRange = arena.allocate(16, 8);
    private MemorySegment bounce;
    private MemorySegment zeroes;
    private long bounced;

    FileIo(FileBackend backend) {
        this.backend = backend;
        this.fd = backend.fd();
    }

    /** Runs a validated operation to the end; returns 0 or a negative errno. */
    int execute(IoOp op) {
        return switch (op.type()) {
            case READ -> transfer(op, false, 0);
            case WRITE -> transfer(op, true, 0);
            case FLUSH -> flush();
            case DISCARD -> discard(op);
            case WRITE_ZEROES -> writeZeroes(op);
        };
    }

    /** How many operations went through the bounce buffer (for tests and metrics). */
    long bounced() {
        return bounced;
    }

    /** Whether the segments can be handed to the kernel as they are. */
    boolean directlyUsable(IoOp op) {
        int align = backend.direct() ? backend.blockSize() : 1;
        for (int i = 0, n = op.segmentCount(); i < n; i++) {
            MemorySegment s = op.segment(i);
            if (!s.isNative() || s.address() % align != 0 || s.byteSize() % align != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads or writes the bytes of {@code op} from {@code done} on. The io_uring engine calls this
     * to finish a short transfer.
     */
    int transfer(IoOp op, boolean write, long done) {
        try {
            if (!directlyUsable(op)) {
                bounced++;
                return bounceTransfer(op, write, done);
            }
            long total = op.length();
            int align = backend.direct() ? backend.blockSize() : 1;
            if (done % align != 0) {
                bounced++;
                return bounceTransfer(op, write, done);
            }
            while (done < total) {
                fill(iov, op, done);
                long n = write ? iov.pwritev(fd, op.offset() + done) : iov.preadv(fd, op.offset() + done);
                if (n <= 0) {
                    // EOF inside the capacity: the file shrank under us. No progress on a write.
                    return -Errno.EIO;
                }
                done += n;
            }
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        } catch (IllegalStateException | IllegalArgumentException | UnsupportedOperationException e) {
            return -Errno.EFAULT;
        }
    }

    /**
     * Tries the whole transfer once with RWF_NOWAIT, on a buffer the kernel can use as it is.
     * Returns 0 when every byte moved (a partial transfer is finished blocking), -EAGAIN when the
     * kernel would have had to wait and moved nothing, -EOPNOTSUPP when the file system cannot
     * start this transfer without blocking, or another negative errno.
     */
    int tryNowait(IoOp op, boolean write) {
        try {
            fill(iov, op, 0);
            long n = iov.transfer2(write, fd, op.offset(), Libc.RWF_NOWAIT);
            if (n < 0) {
                return (int) n;
            }
            return n < op.length() ? transfer(op, write, n) : 0;
        } catch (IllegalStateException | IllegalArgumentException | UnsupportedOperationException e) {
            return -Errno.EFAULT;
        }
    }

    /**
     * One RWF_NOWAIT attempt at the whole transfer, never finishing it by blocking: 0 when all of
     * it moved, -EAGAIN when the kernel would have had to wait (nothing moved, or only part: the
     * caller redoes the whole op elsewhere, which is harmless for a read or for a write of the
     * same bytes), or another negative errno.
     */
    int nowaitOnce(IoOp op, boolean write) {
        try {
            fill(iov, op, 0);
            long n = iov.transfer2(write, fd, op.offset(), Libc.RWF_NOWAIT);
            if (n < 0) {
                return (int) n;
            }
            return n < op.length() ? -Errno.EAGAIN : 0;
        } catch (IllegalStateException | IllegalArgumentException | UnsupportedOperationException e) {
            return -Errno.EFAULT;
        }
    }

    /**
     * Describes the bytes of {@code op} from {@code skip} on in {@code vec}, as many segments as
     * fit. Slicing a partly consumed segment allocates, but only on the rare short-transfer path.
     */
    static void fill(IoVec vec, IoOp op, long skip) {
        vec.clear();
        for (int i = 0, n = op.segmentCount(); i < n && vec.count() < vec.capacity(); i++) {
            MemorySegment s = op.segment(i);
            long len = s.byteSize();
            if (skip >= len) {
                skip -= len;
                continue;
            }
            vec.add(skip == 0 ? s : s.asSlice(skip));
            skip = 0;
        }
    }

    private int bounceTransfer(IoOp op, boolean write, long done) {
        MemorySegment buf = bounce();
        long total = op.length();
        // The file side must stay aligned for O_DIRECT; redoing a few bytes is harmless.
        long pos = done - done % backend.blockSize();
        while (pos < total) {
            long n = Math.min(BOUNCE_SIZE, total - pos);
            if (write) {
                copy(op, pos, buf, n, false);
                int r = pwriteFully(buf, n, op.offset() + pos);
                if (r != 0) {
                    return r;
                }
            } else {
                int r = preadFully(buf, n, op.offset() + pos);
                if (r != 0) {
                    return r;
                }
                copy(op, pos, buf, n, true);
            }
            pos += n;
        }
        return 0;
    }

    /** Copies between the op's bytes [pos, pos + n) and buf[0, n), in the given direction. */
    private static void copy(IoOp op, long pos, MemorySegment buf, long n, boolean intoOp) {
        long segStart = 0;
        long end = pos + n;
        for (int i = 0, count = op.segmentCount(); i < count && segStart < end; i++) {
            MemorySegment s = op.segment(i);
            long segEnd = segStart + s.byteSize();
            long from = Math.max(pos, segStart);
            long to = Math.min(end, segEnd);
            if (from < to) {
                if (intoOp) {
                    MemorySegment.copy(buf, from - pos, s, from - segStart, to - from);
                } else {
                    MemorySegment.copy(s, from - segStart, buf, from - pos, to - from);
                }
            }
            segStart = segEnd;
        }
    }

    private int preadFully(MemorySegment buf, long n, long offset) {
        long done = 0;
        while (done < n) {
            long r = Libc.pread(fd, buf.asSlice(done), n - done, offset + done);
            if (r == 0) {
                return -Errno.EIO;
            }
            done += r;
        }
        return 0;
    }

    private int pwriteFully(MemorySegment buf, long n, long offset) {
        long done = 0;
        while (done < n) {
            long r = Libc.pwrite(fd, buf.asSlice(done), n - done, offset + done);
            if (r == 0) {
                return -Errno.EIO;
            }
            done += r;
        }
        return 0;
    }

    int flush() {
        try {
            Libc.fdatasync(fd);
            backend.dataSynced();
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    int discard(IoOp op) {
        if (op.length() == 0) {
            return 0;
        }
        try {
            if (backend.blockDevice()) {
                discardRange.set(JAVA_LONG, 0, op.offset());
                discardRange.set(JAVA_LONG, 8, op.length());
                Libc.ioctl(fd, Libc.BLKDISCARD, discardRange);
            } else {
                Libc.fallocate(fd, FileBackend.PUNCH_HOLE, op.offset(), op.length());
            }
            return 0;
        } catch (ErrnoException e) {
            // ENOTTY/EOPNOTSUPP: the device or file system cannot discard; the guest learns it.
            return e.errno() == Errno.ENOTTY ? -Errno.EOPNOTSUPP : -e.errno();
        }
    }

    int writeZeroes(IoOp op) {
        if (op.length() == 0) {
            return 0;
        }
        try {
            Libc.fallocate(fd, FileBackend.ZERO_RANGE, op.offset(), op.length());
            return 0;
        } catch (ErrnoException e) {
            if (!unsupported(e.errno())) {
                return -e.errno();
            }
        }
        return writeZeroesWithoutZeroRange(op);
    }

    /** After ZERO_RANGE was refused: punch a hole when the guest allows unmapping, else write zeroes. */
    int writeZeroesWithoutZeroRange(IoOp op) {
        if (op.unmap() && !backend.blockDevice()) {
            try {
                Libc.fallocate(fd, FileBackend.PUNCH_HOLE, op.offset(), op.length());
                return 0;
            } catch (ErrnoException e) {
                if (!unsupported(e.errno())) {
                    return -e.errno();
                }
            }
        }
        try {
            MemorySegment z = zeroes();
            long done = 0;
            while (done < op.length()) {
                long n = Math.min(z.byteSize(), op.length() - done);
                int r = pwriteFully(z, n, op.offset() + done);
                if (r != 0) {
                    return r;
                }
                done += n;
            }
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    static boolean unsupported(int errno) {
        return errno == Errno.EOPNOTSUPP || errno == Errno.ENOSYS || errno == Errno.ENOTTY;
    }

    private MemorySegment bounce() {
        if (bounce == null) {
            bounce = arena.allocate(BOUNCE_SIZE, 4096);
        }
        return bounce;
    }

    private MemorySegment zeroes() {
        if (zeroes == null) {
            // arena.allocate returns zeroed memory, and nothing ever writes into it.
            zeroes = arena.allocate(BOUNCE_SIZE, 4096);
        }
        return zeroes;
    }

    @Override
    public void close() {
        arena.close();
    }
}
