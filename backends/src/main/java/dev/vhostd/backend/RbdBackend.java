package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.Librbd;

import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Ceph RBD image through librbd: {@code rbd:POOL/IMAGE[@SNAP][,options]}. One cluster connection
 * and one open image per backend; each queue submits with rbd_aio_readv/rbd_aio_writev straight
 * from guest memory (no copy, librbd's own cache is switched off) and collects completions with
 * rbd_poll_io_events after the image's eventfd fires, so librbd never calls into Java.
 *
 * <p>A writable image with the exclusive-lock feature is locked at open with rbd_lock_acquire: this
 * client keeps the lock and does not hand it over when another client asks, so a second vhostd on
 * the same image fails to start instead of the two taking turns writing, and a QEMU driver=rbd
 * client's writes fail with EROFS. Nor does it take the lock from a live client that holds it
 * (a QEMU, which would hand it over and lose its writes). A lock left by a vhostd
 * that died is broken once the cluster has noticed the death (its watch expired,
 * osd_client_watch_timeout, 30 s by default); open waits up to lock_timeout for that.
 */
public final class RbdBackend implements BlockBackend {
    private static final System.Logger LOG = System.getLogger("dev.vhostd.backend");

    private final RbdSpec spec;
    private final long cluster;
    private final long ioctx;
    private final long image;
    private final int eventFd;
    private final int blockSize;
    private final boolean readOnly;
    private final long objectSize;
    private volatile long capacity;
    private volatile LatencyRecorder latency = LatencyRecorder.NONE;
    /** Queues by id, for handing a completion to the queue that submitted it. */
    private volatile RbdQueue[] queues = new RbdQueue[0];
    /** Requests submitted to librbd and not yet polled back, over all queues. */
    final AtomicInteger outstanding = new AtomicInteger();
    private boolean closed;

    private RbdBackend(RbdSpec spec, long cluster, long ioctx, long image, int eventFd, int blockSize, boolean readOnly,
            long objectSize, long capacity) {
        this.spec = spec;
        this.cluster = cluster;
        this.ioctx = ioctx;
        this.image = image;
        this.eventFd = eventFd;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.objectSize = objectSize;
        this.capacity = capacity;
    }

    static RbdBackend open(String rest, BackendOptions options) {
        RbdSpec spec = RbdSpec.parse(rest);
        // Connecting and opening wait for the monitors and OSDs (with io_timeout=0, for as long as they are away).
        return PlatformThreadCall.run("vhostd-rbd-open", () -> open(spec, options));
    }

    private static RbdBackend open(RbdSpec spec, BackendOptions options) {
        if (options.direct()) {
            throw new BackendOpenException("the direct option applies to file: backends only, not rbd:"
                    + " (librbd's cache is always off)");
        }
        if (options.size() != 0) {
            throw new BackendOpenException("rbd: takes its size from the image; drop --size (create or grow the image"
                    + " with 'rbd create --size' or 'rbd resize')");
        }
        try {
            Librbd.load();
        } catch (UnsatisfiedLinkError e) {
            throw new BackendOpenException(e.getMessage(), e);
        }
        if (!Files.isReadable(Path.of(spec.conf()))) {
            throw new BackendOpenException("rbd:" + spec.imageSpec() + ": Ceph configuration " + spec.conf()
                    + " is missing or unreadable; give conf=PATH");
        }
        String who = "client." + spec.id();
        if (spec.keyring() != null) {
            Path keyring = Path.of(spec.keyring());
            if (!Files.isRegularFile(keyring) || !Files.isReadable(keyring)) {
                throw new BackendOpenException("rbd:" + spec.imageSpec() + ": keyring " + spec.keyring() + " is missing"
                        + " or unreadable (not a readable file); give keyring=PATH of " + who + "'s keyring ('ceph auth get "
                        + who + " -o PATH' on an admin host writes it)");
            }
        }
        long cluster = Librbd.radosCreate(spec.cluster(), who);
        long ioctx = 0;
        long image = 0;
        int efd = -1;
        boolean ok = false;
        try {
            Librbd.radosConfReadFile(cluster, spec.conf());
            if (spec.keyring() != null) {
                Librbd.radosConfSet(cluster, "keyring", spec.keyring());
            }
            String connect = Integer.toString(spec.connectTimeout());
            Librbd.radosConfSet(cluster, "client_mount_timeout", connect);
            Librbd.radosConfSet(cluster, "rados_mon_op_timeout", connect);
            Librbd.radosConfSet(cluster, "rados_osd_op_timeout", Integer.toString(spec.ioTimeout()));
            // Requests go straight between guest memory and the cluster: no cache to copy into, and
            // an acknowledged write is on the OSDs, not in this process.
            Librbd.radosConfSet(cluster, "rbd_cache", "false");
            // librbd normally hands each rbd_aio_* call to its io_context_pool thread
            // (rbd_non_blocking_aio), so that a caller never waits inside the call. That hop is a
            // thread wake-up and a context switch per request; without it the poller runs librbd's
            // dispatch itself (measured, alternating on one image: about 5-17% less CPU per request
            // at depth 32, more at depth 1 in some rounds; README, "Performance").
            // librbd's dispatch path is asynchronous (a refresh, the exclusive lock, blocked writes
            // queue the request and return); the one place it can wait is the Objecter's in-flight
            // throttle (1024 ops, 100 MiB by default), which would stall the poller and every disk
            // on it. vhostd already bounds what is in flight (the guest's rings), so that throttle
            // is switched off (0: no limit; it then takes no lock either).
            Librbd.radosConfSet(cluster, "rbd_non_blocking_aio", "false");
            Librbd.radosConfSet(cluster, "objecter_inflight_ops", "0");
            Librbd.radosConfSet(cluster, "objecter_inflight_op_bytes", "0");
            int r = Librbd.radosConnect(cluster);
            if (r < 0) {
                throw new BackendOpenException(connectError(spec, who, -r));
            }
            long[] out = new long[1];
            r = Librbd.radosIoctxCreate(cluster, spec.pool(), out);
            if (r < 0) {
                throw new BackendOpenException(r == -Errno.ENOENT
                        ? "rbd:" + spec.imageSpec() + ": pool '" + spec.pool() + "' does not exist ('ceph osd pool ls'"
                                + " lists the pools; create it with 'ceph osd pool create' and 'rbd pool init')"
                        : "rbd:" + spec.imageSpec() + ": cannot use pool '" + spec.pool() + "': " + errno(-r));
            }
            ioctx = out[0];
            if (spec.namespace() != null) {
                Librbd.radosIoctxSetNamespace(ioctx, spec.namespace());
            }
            boolean ro = options.readOnly() || spec.snapshot() != null;
            r = Librbd.rbdOpen(ioctx, spec.image(), spec.snapshot(), ro, out);
            if (r < 0) {
                throw new BackendOpenException(openError(spec, who, ro, -r));
            }
            image = out[0];
            if (!ro && (Librbd.rbdGetFeatures(image) & Librbd.FEATURE_EXCLUSIVE_LOCK) != 0) {
                acquireLock(spec, image);
            }
            long size = Librbd.rbdGetSize(image);
            int bs = options.logicalBlockSize() == 0 ? 512 : options.logicalBlockSize();
            long usable = size - size % bs;
            if (usable == 0) {
                throw new BackendOpenException("rbd:" + spec.imageSpec() + " is " + size + " bytes, smaller than one block of "
                        + bs + " bytes; grow it with 'rbd resize'");
            }
            if (usable != size) {
                LOG.log(Level.WARNING, "rbd:" + spec.imageSpec() + " is " + size + " bytes, not a multiple of the "
                        + bs + "-byte block; the guest sees " + usable);
            }
            long objectSize = Librbd.rbdObjectSize(image);
            efd = EventFd.create();
            Librbd.rbdSetImageNotification(image, efd);
            RbdBackend b = new RbdBackend(spec, cluster, ioctx, image, efd, bs, ro, objectSize, usable);
            ok = true;
            LOG.log(Level.INFO, () -> b.describe() + ": " + usable + " bytes, " + objectSize + "-byte objects");
            return b;
        } catch (ErrnoException e) {
            throw new BackendOpenException("rbd:" + spec.imageSpec() + ": " + e.getMessage(), e);
        } finally {
            if (!ok) {
                if (efd >= 0) {
                    Libc.close(efd);
                }
                if (image != 0) {
                    Librbd.rbdClose(image);
                }
                if (ioctx != 0) {
                    Librbd.radosIoctxDestroy(ioctx);
                }
                Librbd.radosShutdown(cluster);
            }
        }
    }

    private static String connectError(RbdSpec spec, String who, int errno) {
        String at = "rbd:" + spec.imageSpec() + ": ";
        if (errno == Errno.ETIMEDOUT) {
            return at + "the Ceph cluster is unreachable: no monitor answered within " + spec.connectTimeout()
                    + " s (mon_host in " + spec.conf() + "); check that the monitors run and this host reaches them,"
                    + " or raise connect_timeout=";
        }
        if (errno == Errno.EACCES || errno == Errno.EPERM) {
            if (spec.keyring() != null && !keyringNames(spec.keyring(), who)) {
                return at + "permission denied: keyring " + spec.keyring() + " holds no key for " + who + "; give id= of"
                        + " the user it is for, or that user's keyring ('ceph auth get " + who + " -o PATH')";
            }
            return at + "permission denied: the monitors refused " + who + " (its key in "
                    + (spec.keyring() != null ? spec.keyring() : "the keyring " + spec.conf() + " names")
                    + " is not the cluster's, or it has no mon caps); compare with 'ceph auth get " + who + "'"
                    + " (it needs mon 'profile rbd' and osd 'profile rbd pool=" + spec.pool() + "')";
        }
        if (errno == Errno.ENOENT) {
            return at + "no keyring for " + who + ": " + spec.conf() + " names none that exists; give keyring=PATH"
                    + " ('ceph auth get " + who + " -o PATH' writes one)";
        }
        return at + "cannot connect to the Ceph cluster as " + who + " with " + spec.conf() + ": " + errno(errno);
    }

    private static String openError(RbdSpec spec, String who, boolean readOnly, int errno) {
        String at = "rbd:" + spec.imageSpec() + ": ";
        if (errno == Errno.ENOENT) {
            return at + (spec.snapshot() == null
                    ? "image '" + spec.image() + "' does not exist in pool '" + spec.pool() + "'"
                    + (spec.namespace() == null ? "" : " namespace '" + spec.namespace() + "'")
                    + " ('rbd ls " + spec.pool() + "' lists the images; create one with 'rbd create --size')"
                    : "image '" + spec.image() + "' or its snapshot '" + spec.snapshot() + "' does not exist"
                    + " ('rbd snap ls " + spec.pool() + "/" + spec.image() + "')");
        }
        if (errno == Errno.EACCES || errno == Errno.EPERM) {
            return at + "permission denied: " + who + " may not " + (readOnly ? "read" : "write") + " this image;"
                    + " give it osd 'profile rbd pool=" + spec.pool() + "'"
                    + (spec.namespace() == null ? "" : " namespace=" + spec.namespace())
                    + (readOnly ? "" : " (with only 'profile rbd-read-only' it can serve the image read-only: --read-only)")
                    + " ('ceph auth caps " + who + " ...'; 'ceph auth get " + who + "' shows its caps now)";
        }
        if (errno == Errno.ETIMEDOUT) {
            return at + "the cluster did not answer within " + spec.ioTimeout() + " s while opening the image"
                    + " (are the OSDs up? 'ceph osd stat')";
        }
        return at + "cannot open the image: " + errno(errno);
    }

    /** Whether the keyring file has a section for {@code who}; true if it is not text (a binary keyring). */
    private static boolean keyringNames(String keyring, String who) {
        try {
            return Files.readAllLines(Path.of(keyring)).stream().anyMatch(l -> l.strip().equals("[" + who + "]"));
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return true;
        }
    }

    /**
     * Takes the exclusive lock and keeps it. librbd's rbd_lock_acquire would also take the lock from
     * a live owner that holds it cooperatively (a QEMU with driver=rbd hands it over on request, and
     * its writes fail with EROFS from then on), so a lock whose owner still watches the image is left
     * alone and waited for. A live exclusive owner (another vhostd) refuses with -EROFS. A dead one's
     * lock is broken by rbd_lock_acquire once its watch has expired, so a restart after a crash
     * retries for a while. Between the owner check and the acquire, another client could take the
     * lock; that race is as narrow as two calls and only with a client starting at the same moment.
     */
    private static void acquireLock(RbdSpec spec, long image) {
        long deadline = System.nanoTime() + spec.lockTimeout() * 1_000_000_000L;
        boolean logged = false;
        while (true) {
            String liveOwner = liveLockOwner(image);
            int r = liveOwner != null ? -Errno.EBUSY : Librbd.rbdLockAcquireExclusive(image);
            if (r == 0) {
                if (logged) {
                    LOG.log(Level.INFO, "rbd:" + spec.imageSpec() + ": took over the exclusive lock");
                }
                return;
            }
            boolean busy = r == -Errno.EROFS || r == -Errno.EBUSY || r == -Errno.EAGAIN;
            if (!busy || System.nanoTime() - deadline > 0) {
                String who = liveOwner != null ? "another client (" + liveOwner + ")" : "another client";
                throw new BackendOpenException("rbd:" + spec.imageSpec() + ": " + (busy
                        ? who + " holds the image's exclusive lock and is alive (another vhostd, or a VM or"
                        + " qemu-storage-daemon with driver=rbd, serving it?); vhostd does not take an image from a live"
                        + " client. 'rbd lock ls " + spec.pool() + "/" + spec.image() + "' and 'rbd status' show who."
                        + " Stop it first; a crashed owner's lock is released once its watch expires"
                        + " (osd_client_watch_timeout), give lock_timeout= longer than that"
                        : "cannot take the exclusive lock: " + errno(-r)));
            }
            if (!logged) {
                logged = true;
                LOG.log(Level.WARNING, "rbd:" + spec.imageSpec() + ": the exclusive lock is held by another client"
                        + (liveOwner != null ? " (" + liveOwner + ")" : "") + "; waiting up to " + spec.lockTimeout()
                        + " s for it (a vhostd that crashed holds it until the cluster notices,"
                        + " osd_client_watch_timeout)");
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackendOpenException("interrupted while waiting for the exclusive lock of rbd:"
                        + spec.imageSpec(), e);
            }
        }
    }

    /** The address of the lock's owner if it still watches the image (it is alive), else null. */
    private static String liveLockOwner(long image) {
        String owner = Librbd.rbdLockOwner(image);
        return owner != null && Librbd.rbdWatchers(image).contains(owner) ? owner : null;
    }

    private static String errno(int errno) {
        return Errno.name(errno) + " (errno " + errno + ")";
    }

    long image() {
        return image;
    }

    int imageEventFd() {
        return eventFd;
    }

    LatencyRecorder latencyRecorder() {
        return latency;
    }

    @Override
    public void latencyRecorder(LatencyRecorder recorder) {
        this.latency = recorder == null ? LatencyRecorder.NONE : recorder;
    }

    @Override
    public boolean recordsLatency() {
        return true;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean supportsDiscard() {
        return !readOnly;
    }

    /** librbd skips the parts of a discard that do not cover whole objects (rbd_skip_partial_discard). */
    @Override
    public boolean discardZeroes() {
        return false;
    }

    @Override
    public boolean supportsWriteZeroes() {
        return !readOnly;
    }

    /** With librbd's cache off, an acknowledged write is on the OSDs. */
    @Override
    public boolean hasVolatileCache() {
        return false;
    }

    @Override
    public long optimalIoBytes() {
        return objectSize;
    }

    @Override
    public String describe() {
        return "rbd:" + spec.imageSpec() + (readOnly ? " (read-only)" : "");
    }

    @Override
    public synchronized long resize(long newSize) throws java.io.IOException {
        // rbd_resize and rbd_get_size's header refresh wait for the OSDs.
        return PlatformThreadCall.run("vhostd-rbd-resize", () -> resizeNow(newSize));
    }

    private long resizeNow(long newSize) throws java.io.IOException {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
        if (newSize < 0) {
            throw new IllegalArgumentException("size must not be negative: " + newSize);
        }
        if (newSize == 0) {
            long size = Librbd.rbdGetSize(image);
            long usable = size - size % blockSize;
            if (usable < capacity) {
                throw new java.io.IOException(describe() + " shrank to " + size + " bytes outside vhostd (from "
                        + capacity + "); the guest would lose data past the new end. Grow it back with 'rbd resize'");
            }
            capacity = usable;
            return usable;
        }
        if (readOnly) {
            throw new UnsupportedOperationException(describe() + " is read-only; a snapshot cannot be resized");
        }
        if (newSize % blockSize != 0) {
            throw new IllegalArgumentException("size " + newSize + " is not a multiple of the block size " + blockSize);
        }
        if (newSize < capacity) {
            throw new IllegalArgumentException("size " + newSize + " is below the current " + capacity
                    + "; shrinking would cut off the guest's data");
        }
        int r = Librbd.rbdResize(image, newSize);
        if (r < 0) {
            throw new java.io.IOException(describe() + ": rbd_resize to " + newSize + " failed: " + errno(-r));
        }
        capacity = newSize;
        return newSize;
    }

    @Override
    public synchronized BackendQueue openQueue() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
        RbdQueue[] current = queues;
        int id = 0;
        while (id < current.length && current[id] != null) {
            id++;
        }
        RbdQueue[] next = java.util.Arrays.copyOf(current, Math.max(current.length, id + 1));
        RbdQueue q = new RbdQueue(this, id);
        next[id] = q;
        queues = next;
        return q;
    }

    synchronized void queueClosed(RbdQueue q) {
        RbdQueue[] next = queues.clone();
        if (q.id() < next.length && next[q.id()] == q) {
            next[q.id()] = null;
        }
        queues = next;
    }

    /** The queue with this id, or null if it closed. */
    RbdQueue queue(int id) {
        RbdQueue[] q = queues;
        return id >= 0 && id < q.length ? q[id] : null;
    }

    /** Number of queues open now. */
    int openQueues() {
        int n = 0;
        for (RbdQueue q : queues) {
            if (q != null) {
                n++;
            }
        }
        return n;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // rbd_close waits for requests still in librbd and releases the exclusive lock on the OSDs.
        PlatformThreadCall.run("vhostd-rbd-close", () -> {
            closeNow();
            return null;
        });
    }

    private void closeNow() {
        try {
            Librbd.rbdClose(image);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, describe() + ": closing the image failed: " + e.getMessage());
        }
        Libc.close(eventFd);
        Librbd.radosIoctxDestroy(ioctx);
        Librbd.radosShutdown(cluster);
    }
}
