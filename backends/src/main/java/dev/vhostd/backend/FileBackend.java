package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A regular file or block device. Flush is fdatasync; discard punches a hole (files) or issues
 * BLKDISCARD (block devices); write-zeroes uses FALLOC_FL_ZERO_RANGE with fallbacks (see
 * {@link FileIo}). The page cache or the disk's own cache may hold writes, so the backend has a
 * volatile cache and the device advertises FLUSH.
 */
final class FileBackend implements BlockBackend {
    static final int PUNCH_HOLE = Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE;
    static final int ZERO_RANGE = Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE;
    private static final int CREATE_MODE = 0644;
    private static final System.Logger LOG = System.getLogger("dev.vhostd.backend");

    private final String path;
    private final OwnedFd fd;
    /** Grows under {@link #resize}; queues check every op against the value in force (a volatile read). */
    private volatile long capacity;
    private final int blockSize;
    private final boolean readOnly;
    private final boolean direct;
    private final boolean blockDevice;
    private final boolean discard;
    private final Aio engine;
    /** The operator's choice: with AUTO a queue whose ring cannot be made falls back to sync. */
    private final Aio requested;
    private final int queueDepth;
    /** Queues cache the fd number: closing it under them could send their I/O to another file. */
    private final AtomicInteger openQueues = new AtomicInteger();
    private final AtomicBoolean inlineReadsLogged = new AtomicBoolean();
    private final AtomicBoolean inlineWritesLogged = new AtomicBoolean();
    private final AtomicBoolean workerReadsLogged = new AtomicBoolean();
    private final AtomicBoolean workerWritesLogged = new AtomicBoolean();
    /**
     * Whether buffered I/O may wait for writeback (dirty-page throttling, a journal): true except
     * on memory file systems (tmpfs, ramfs), whose pages are never written back.
     */
    private final boolean writebackMayBlock;
    private final AtomicInteger queueNumbers = new AtomicInteger();
    /** Successful fdatasyncs issued by the queues (inline or through io_uring). */
    private final java.util.concurrent.atomic.LongAdder dataSyncs = new java.util.concurrent.atomic.LongAdder();

    private FileBackend(String path, OwnedFd fd, long capacity, int blockSize, boolean readOnly, boolean direct,
                        boolean blockDevice, boolean discard, Aio engine, Aio requested, int queueDepth,
                        boolean writebackMayBlock) {
        this.path = path;
        this.fd = fd;
        this.capacity = capacity;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.direct = direct;
        this.blockDevice = blockDevice;
        this.discard = discard;
        this.engine = engine;
        this.requested = requested;
        this.queueDepth = queueDepth;
        this.writebackMayBlock = writebackMayBlock;
    }

    static FileBackend open(String path, BackendOptions o) {
        int flags = (o.readOnly() ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC | (o.direct() ? Libc.O_DIRECT : 0);
        boolean created = false;
        OwnedFd fd;
        try {
            fd = new OwnedFd(Libc.open(path, flags, 0));
        } catch (ErrnoException e) {
            if (e.errno() != Errno.ENOENT) {
                throw openFailure(path, o, e);
            }
            fd = create(path, flags, o);
            created = true;
        }
        try {
            return configure(path, fd, o, created);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static OwnedFd create(String path, int flags, BackendOptions o) {
        if (o.size() == 0) {
            throw new BackendOpenException("file " + path + " does not exist; pass --size to create it");
        }
        if (o.readOnly()) {
            throw new BackendOpenException("file " + path + " does not exist and a read-only backend cannot create it");
        }
        int bs = o.logicalBlockSize() == 0 ? 512 : o.logicalBlockSize();
        if (o.size() % bs != 0) {
            throw new BackendOpenException("size " + o.size() + " is not a multiple of the block size " + bs
                    + "; choose a size such as " + Sizes.format((o.size() / bs + 1) * bs));
        }
        OwnedFd fd;
        try {
            fd = new OwnedFd(Libc.open(path, flags | Libc.O_CREAT | Libc.O_EXCL, CREATE_MODE));
        } catch (ErrnoException e) {
            throw openFailure(path, o, e);
        }
        try {
            Libc.ftruncate(fd.fd(), o.size());
        } catch (ErrnoException e) {
            fd.close();
            throw new BackendOpenException("cannot size new file " + path + " to " + Sizes.format(o.size()) + ": "
                    + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "created " + path + " with " + Sizes.format(o.size()));
        return fd;
    }

    private static BackendOpenException openFailure(String path, BackendOptions o, ErrnoException e) {
        String why = switch (e.errno()) {
            case Errno.EACCES, Errno.EPERM -> "permission denied" + permissionAdvice(path, o);
            case Errno.EISDIR -> "it is a directory; name a regular file or a block device";
            case Errno.EROFS -> "it is on a read-only file system; pass --read-only";
            case Errno.EINVAL -> o.direct()
                    ? "its file system does not support O_DIRECT; drop the direct option" : e.getMessage();
            case Errno.ENOENT -> "a directory on the path does not exist";
            default -> e.getMessage();
        };
        return new BackendOpenException("cannot open file " + path + ": " + why, e);
    }

    /**
     * After EACCES: suggest --read-only only when reading would work; when reading is denied too,
     * say that vhostd's user needs access (access(2) checks the real uid, which is vhostd's).
     */
    private static String permissionAdvice(String path, BackendOptions o) {
        String user = "uid " + currentUid();
        if (o.readOnly() || !java.nio.file.Files.isReadable(java.nio.file.Path.of(path))) {
            return ": vhostd (" + user + ") may not read it either; give that user read" + (o.readOnly() ? "" : " and write")
                    + " access to the file (owner, group or mode)";
        }
        return ": vhostd (" + user + ") may read it but not write it; give that user write access, or serve it"
                + " read-only with --read-only";
    }

    /** The effective uid, for messages: the owner of /proc/self. */
    private static String currentUid() {
        try {
            return String.valueOf(java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"), "unix:uid"));
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    private static FileBackend configure(String path, OwnedFd fd, BackendOptions o, boolean created) {
        Libc.FileStat st = Libc.fstat(fd.fd());
        if (!st.isRegular() && !st.isBlockDevice()) {
            throw new BackendOpenException("file " + path + " is neither a regular file nor a block device");
        }
        long size = st.size();
        if (!created && o.size() != 0 && o.size() != size) {
            throw new BackendOpenException("file " + path + " exists with size " + size + " (" + Sizes.format(size)
                    + ") but --size " + Sizes.format(o.size()) + " was given; drop --size to use the file as it is");
        }
        int bs = blockSize(path, fd.fd(), o, st, size);
        long capacity = size - size % bs;
        if (capacity == 0) {
            throw new BackendOpenException("file " + path + " is " + size + " bytes, smaller than one block of " + bs
                    + "; it needs at least " + bs + " bytes");
        }
        if (capacity != size) {
            // Refused, as QEMU refuses such an image: serving a rounded-down disk would hide the tail
            // bytes from the guest without anyone noticing.
            throw new BackendOpenException("file " + path + " is " + size + " bytes, not a multiple of the " + bs
                    + "-byte logical block size (" + (size - capacity) + " bytes over); grow it to a whole block"
                    + " with truncate -s " + (capacity + bs) + " " + path + " (or shrink it to " + capacity + ")");
        }
        boolean discard = !o.readOnly() && (st.isBlockDevice() || probePunchHole(fd.fd(), size, bs));
        Aio engine = chooseEngine(path, o.aio());
        return new FileBackend(path, fd, capacity, bs, o.readOnly(), o.direct(), st.isBlockDevice(), discard,
                engine, o.aio(), o.queueDepth(), st.isBlockDevice() || !memoryFileSystem(path));
    }

    /** tmpfs or ramfs: no writeback, so buffered calls never wait for a device. Unknown counts as not. */
    private static boolean memoryFileSystem(String path) {
        try {
            String type = java.nio.file.Files.getFileStore(java.nio.file.Path.of(path)).type();
            return type.equals("tmpfs") || type.equals("ramfs");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static int blockSize(String path, int fd, BackendOptions o, Libc.FileStat st, long size) {
        int wanted = o.logicalBlockSize();
        if (st.isBlockDevice()) {
            int sector = Libc.blockDeviceSectorSize(fd);
            if (wanted == 0) {
                return sector == 4096 ? 4096 : 512;
            }
            if (o.direct() && wanted < sector) {
                throw new BackendOpenException("block device " + path + " has " + sector + "-byte sectors; O_DIRECT "
                        + "cannot use a logical block size of " + wanted + ": pass --logical-block-size " + sector);
            }
            return wanted;
        }
        if (!o.direct()) {
            return wanted == 0 ? 512 : wanted;
        }
        // O_DIRECT on a file: the file system decides the alignment. Try it with a small read.
        int[] candidates = wanted == 0 ? new int[] {512, 4096} : new int[] {wanted};
        ErrnoException last = null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096, 4096);
            for (int bs : candidates) {
                if (size < bs) {
                    break;
                }
                try {
                    Libc.pread(fd, buf, bs, 0);
                    return bs;
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.EINVAL) {
                        throw new BackendOpenException("cannot read " + path + ": " + e.getMessage(), e);
                    }
                    last = e;
                }
            }
        }
        if (last == null) {
            return candidates[0];
        }
        throw new BackendOpenException("O_DIRECT reads of " + path + " fail with EINVAL at block size "
                + candidates[candidates.length - 1] + (wanted == 0 ? "" : "; try --logical-block-size 4096")
                + ", or drop the direct option");
    }

    /** Whether the file system can punch holes: try one past the end, where there is no data. */
    private static boolean probePunchHole(int fd, long size, int bs) {
        long beyond = (size + bs - 1) / bs * bs;
        try {
            Libc.fallocate(fd, PUNCH_HOLE, beyond, bs);
            return true;
        } catch (ErrnoException e) {
            if (FileIo.unsupported(e.errno())) {
                return false;
            }
            // Some other refusal: assume support and let each discard report its own error.
            return true;
        }
    }

    private static Aio chooseEngine(String path, Aio requested) {
        if (requested == Aio.SYNC) {
            return Aio.SYNC;
        }
        String reason = IoUringSupport.unavailableReason();
        if (reason == null) {
            return Aio.IO_URING;
        }
        if (requested == Aio.IO_URING) {
            throw new BackendOpenException("aio=io_uring was requested for " + path + " but io_uring is unavailable: "
                    + reason + "; use aio=sync or aio=auto");
        }
        LOG.log(Level.INFO, "io_uring is unavailable (" + reason + "); " + path + " uses synchronous I/O");
        return Aio.SYNC;
    }

    int fd() {
        return fd.fd();
    }

    boolean direct() {
        return direct;
    }

    boolean blockDevice() {
        return blockDevice;
    }

    /** The engine in use: {@link Aio#IO_URING} or {@link Aio#SYNC}, never AUTO. */
    Aio engine() {
        return engine;
    }

    @Override public long capacity() { return capacity; }
    @Override public int blockSize() { return blockSize; }
    @Override public boolean readOnly() { return readOnly; }
    @Override public boolean supportsDiscard() { return discard; }
    /** Punched holes read back as zeroes; what a device returns after BLKDISCARD is undefined. */
    @Override public boolean discardZeroes() { return discard && !blockDevice; }
    @Override public boolean supportsWriteZeroes() { return !readOnly; }
    @Override public boolean hasVolatileCache() { return !readOnly; }

    /**
     * A regular file grows with ftruncate (sparse: no space is allocated); a size of 0 re-reads the
     * size of a file or block device grown by its owner. A block device cannot be grown from here.
     */
    @Override
    public synchronized long resize(long newSize) throws IOException {
        if (!fd.isOpen()) {
            throw new IllegalStateException(describe() + " is closed");
        }
        long current = capacity;
        if (newSize < 0) {
            throw new IllegalArgumentException("size " + newSize + " is negative");
        }
        Libc.FileStat st;
        try {
            st = Libc.fstat(fd.fd());
        } catch (ErrnoException e) {
            throw new IOException("cannot read the size of " + path + ": " + e.getMessage(), e);
        }
        if (newSize == 0) {
            long size = st.size() - st.size() % blockSize;
            if (size < current) {
                throw new IllegalArgumentException(path + " is now " + Sizes.format(st.size()) + ", smaller than the "
                        + Sizes.format(current) + " the guest sees: it was shrunk outside vhostd. The disk keeps its"
                        + " size (reads past the new end fail); restore the size of " + path);
            }
            if (size > current) {
                capacity = size;
                LOG.log(Level.INFO, path + " grew outside vhostd from " + Sizes.format(current) + " to "
                        + Sizes.format(size));
            }
            return capacity;
        }
        if (newSize % blockSize != 0) {
            throw new IllegalArgumentException("size " + newSize + " is not a multiple of the block size " + blockSize
                    + "; choose a size such as " + Sizes.format((newSize / blockSize + 1) * blockSize));
        }
        if (newSize < current) {
            throw new IllegalArgumentException("cannot shrink " + path + " from " + Sizes.format(current) + " to "
                    + Sizes.format(newSize) + ": the guest would lose the data past the new end");
        }
        if (newSize == current) {
            return current;
        }
        if (blockDevice) {
            throw new UnsupportedOperationException(path + " is a block device, which vhostd cannot grow: grow it"
                    + " with its own tools (lvextend, ...), then resize without a size to pick up its new size");
        }
        if (readOnly) {
            throw new UnsupportedOperationException(path + " is served read-only, so vhostd does not change it: grow"
                    + " the file outside, then resize without a size to pick up its new size");
        }
        // Never truncate below what the file already holds (it may have been extended outside).
        if (st.size() < newSize) {
            try {
                Libc.ftruncate(fd.fd(), newSize);
            } catch (ErrnoException e) {
                throw new IOException("cannot grow " + path + " to " + Sizes.format(newSize) + ": " + e.getMessage(), e);
            }
        }
        capacity = newSize;
        LOG.log(Level.INFO, "grew " + path + " from " + Sizes.format(current) + " to " + Sizes.format(newSize));
        return newSize;
    }

    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("file:").append(path).append(" (").append(engine.optionName());
        if (direct) {
            sb.append(", O_DIRECT");
        }
        if (readOnly) {
            sb.append(", read-only");
        }
        return sb.append(", ").append(blockSize).append("-byte blocks)").toString();
    }

    @Override
    public BackendQueue openQueue() {
        return openQueue(UringFileQueue.DEFAULT_STALL_NANOS, UringFileQueue.FIRST_BACKOFF_NANOS);
    }

    /**
     * A queue whose inline reads or writes count as stalled after {@code stallNanos} and then use
     * the ring for at least {@code firstBackoffNanos} (tests change both).
     */
    synchronized BackendQueue openQueue(long stallNanos, long firstBackoffNanos) {
        if (!fd.isOpen()) {
            throw new IllegalStateException(describe() + " is closed");
        }
        BackendQueue q = engine == Aio.IO_URING ? uringQueue(stallNanos, firstBackoffNanos) : new SyncFileQueue(this);
        openQueues.incrementAndGet();
        return q;
    }

    private BackendQueue uringQueue(long stallNanos, long firstBackoffNanos) {
        // Only page-cache I/O can be cheaper inline: O_DIRECT and block devices wait for the device.
        boolean learn = requested == Aio.AUTO && !direct && !blockDevice;
        try {
            return new UringFileQueue(this, queueDepth, learn, stallNanos, firstBackoffNanos);
        } catch (RuntimeException e) {
            if (requested != Aio.AUTO) {
                throw e;
            }
            // Rings cost kernel memory; running out for one queue should not stop the device.
            LOG.log(Level.WARNING, e.getMessage() + "; this queue uses synchronous I/O");
            return new SyncFileQueue(this);
        }
    }

    boolean writebackMayBlock() {
        return writebackMayBlock;
    }

    /** For thread names: the file's name and a queue number. */
    String shortName() {
        java.nio.file.Path name = java.nio.file.Path.of(path).getFileName();
        return (name == null ? path : name.toString()) + "-" + queueNumbers.getAndIncrement();
    }

    void dataSynced() {
        dataSyncs.increment();
    }

    @Override
    public long dataSyncs() {
        return dataSyncs.sum();
    }

    /** Called by a queue that found its reads or writes are best run inline; logged once per direction. */
    void runsInline(boolean write) {
        if ((write ? inlineWritesLogged : inlineReadsLogged).compareAndSet(false, true)) {
            String what = write ? "writes" : "reads";
            LOG.log(Level.INFO, path + ": the file system cannot start buffered " + what + " without blocking,"
                    + " so io_uring would pass each to a kernel worker thread; " + what + " run on the poller"
                    + " threads instead (faster for page-cache I/O; one that blocks over "
                    + UringFileQueue.DEFAULT_STALL_NANOS / 1_000_000 + " ms sends " + what
                    + " through io_uring for a while). --aio io_uring always uses the ring");
        }
    }

    /** Called by a queue that sends its reads or writes to its worker thread; logged once per direction. */
    void runsOnWorker(boolean write) {
        if ((write ? workerWritesLogged : workerReadsLogged).compareAndSet(false, true)) {
            String what = write ? "writes" : "reads";
            LOG.log(Level.INFO, path + ": the file system cannot start buffered " + what + " without blocking and"
                    + " they may wait for writeback, so each queue runs its " + what + " on a worker thread of"
                    + " its own (batched hand-offs; the poller keeps serving other requests while one waits)."
                    + " --aio io_uring uses io_uring's kernel workers instead");
        }
    }

    /** Called once by each queue's close. */
    void queueClosed() {
        openQueues.decrementAndGet();
    }

    @Override
    public synchronized void close() {
        if (!fd.isOpen()) {
            return;
        }
        if (openQueues.get() > 0) {
            throw new IllegalStateException("cannot close " + describe() + ": " + openQueues.get()
                    + " of its queues are still open; close them first");
        }
        try {
            if (!readOnly) {
                Libc.fdatasync(fd.fd());
            }
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "final flush of " + path + " failed: " + e.getMessage());
        } finally {
            fd.close();
        }
    }
}
