package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The librados and librbd calls (Ceph 16.2, librbd API 1.16) the rbd: backend makes, as FFM
 * downcalls. The libraries are looked up the first time this class is used, so a daemon that
 * serves no rbd: disk never loads them. Both libraries return a negative errno rather than setting
 * errno; the wrappers throw {@link ErrnoException} carrying it, or, on the per-request path, return
 * it for the caller to complete the request with.
 *
 * <p>Opaque handles (rados_t, rados_ioctx_t, rbd_image_t, rbd_completion_t) are passed as
 * {@code long}: on x86-64 and aarch64 a pointer and a 64-bit integer travel in the same register,
 * and a long costs no MemorySegment per call. No callback is ever given to the libraries:
 * completions are collected with {@link #pollIoEvents} after the image's eventfd fires.
 */
public final class Librbd {
    /** rbd_set_image_notification's type for an eventfd (librbd.h EVENT_TYPE_EVENTFD). */
    public static final int EVENT_TYPE_EVENTFD = 2;
    /** rbd_lock_mode_t RBD_LOCK_MODE_EXCLUSIVE. */
    public static final int LOCK_MODE_EXCLUSIVE = 0;
    /** RBD_FEATURE_EXCLUSIVE_LOCK. */
    public static final long FEATURE_EXCLUSIVE_LOCK = 1L << 2;
    /** librbd refuses more iovecs than this in one rbd_aio_readv/writev (IOV_MAX). */
    public static final int MAX_IOVECS = 1024;

    /** sizeof(rbd_image_info_t) on 64-bit Linux: size, obj_size, num_objs, order, then deprecated fields. */
    private static final long IMAGE_INFO_SIZE = 160;
    private static final long INFO_OBJ_SIZE_OFFSET = 8;

    private Librbd() {}

    /** Loads the libraries on first use; a missing library fails here with what to install. */
    private static final class Lib {
        static final Linker LINKER = Linker.nativeLinker();
        static final SymbolLookup RBD;
        static final SymbolLookup RADOS;

        static {
            RADOS = load("librados.so.2", "librados2");
            RBD = load("librbd.so.1", "librbd1");
        }

        private static SymbolLookup load(String soname, String debianPackage) {
            try {
                // The global arena: the library stays loaded for the life of the process.
                return SymbolLookup.libraryLookup(soname, Arena.global());
            } catch (IllegalArgumentException e) {
                throw new UnsatisfiedLinkError(soname + " is not installed; the rbd: backend needs it"
                        + " (Debian/Ubuntu: apt-get install " + debianPackage + ")");
            }
        }

        static MethodHandle rados(String name, FunctionDescriptor fd) {
            return LINKER.downcallHandle(RADOS.find(name).orElseThrow(
                    () -> new UnsatisfiedLinkError("librados.so.2 has no " + name + "; Ceph 16.2 or later is needed")), fd);
        }

        static MethodHandle rbd(String name, FunctionDescriptor fd) {
            return LINKER.downcallHandle(RBD.find(name).orElseThrow(
                    () -> new UnsatisfiedLinkError("librbd.so.1 has no " + name + "; Ceph 16.2 or later is needed")), fd);
        }
    }

    private static final class Rados {
        static final MethodHandle CREATE2 = Lib.rados("rados_create2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        static final MethodHandle CONF_READ_FILE = Lib.rados("rados_conf_read_file",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
        static final MethodHandle CONF_SET = Lib.rados("rados_conf_set",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle CONNECT = Lib.rados("rados_connect", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        static final MethodHandle SHUTDOWN = Lib.rados("rados_shutdown", FunctionDescriptor.ofVoid(JAVA_LONG));
        static final MethodHandle IOCTX_CREATE = Lib.rados("rados_ioctx_create",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle IOCTX_DESTROY = Lib.rados("rados_ioctx_destroy", FunctionDescriptor.ofVoid(JAVA_LONG));
        static final MethodHandle IOCTX_SET_NAMESPACE = Lib.rados("rados_ioctx_set_namespace",
                FunctionDescriptor.ofVoid(JAVA_LONG, ADDRESS));
    }

    private static final class Rbd {
        static final MethodHandle OPEN = Lib.rbd("rbd_open",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle OPEN_READ_ONLY = Lib.rbd("rbd_open_read_only",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle CLOSE = Lib.rbd("rbd_close", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        static final MethodHandle GET_SIZE = Lib.rbd("rbd_get_size", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
        static final MethodHandle STAT = Lib.rbd("rbd_stat",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG));
        static final MethodHandle GET_FEATURES = Lib.rbd("rbd_get_features",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
        static final MethodHandle RESIZE = Lib.rbd("rbd_resize", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle LOCK_ACQUIRE = Lib.rbd("rbd_lock_acquire",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
        static final MethodHandle LOCK_GET_OWNERS = Lib.rbd("rbd_lock_get_owners",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle LOCK_GET_OWNERS_CLEANUP = Lib.rbd("rbd_lock_get_owners_cleanup",
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        static final MethodHandle WATCHERS_LIST = Lib.rbd("rbd_watchers_list",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        static final MethodHandle WATCHERS_LIST_CLEANUP = Lib.rbd("rbd_watchers_list_cleanup",
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        static final MethodHandle SET_IMAGE_NOTIFICATION = Lib.rbd("rbd_set_image_notification",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT));
        static final MethodHandle AIO_CREATE_COMPLETION = Lib.rbd("rbd_aio_create_completion",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
        static final MethodHandle AIO_READV = Lib.rbd("rbd_aio_readv",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_WRITEV = Lib.rbd("rbd_aio_writev",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_DISCARD = Lib.rbd("rbd_aio_discard",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_WRITE_ZEROES = Lib.rbd("rbd_aio_write_zeroes",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT));
        static final MethodHandle AIO_FLUSH = Lib.rbd("rbd_aio_flush",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_GET_RETURN_VALUE = Lib.rbd("rbd_aio_get_return_value",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_GET_ARG = Lib.rbd("rbd_aio_get_arg", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        static final MethodHandle AIO_RELEASE = Lib.rbd("rbd_aio_release", FunctionDescriptor.ofVoid(JAVA_LONG));
        static final MethodHandle POLL_IO_EVENTS = Lib.rbd("rbd_poll_io_events",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT));
    }

    /** Loads librados and librbd now; throws UnsatisfiedLinkError naming the package if one is missing. */
    public static void load() {
        MethodHandle ignored = Rbd.POLL_IO_EVENTS;
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    private static void check(String call, int r, String detail) {
        if (r < 0) {
            throw new ErrnoException(call, -r, detail);
        }
    }

    // ---- librados: the cluster connection (control path) ----

    /** rados_create2(&cluster, clusterName, "client." + id, 0): a handle, not yet connected. */
    public static long radosCreate(String clusterName, String clientName) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            int r = (int) Rados.CREATE2.invokeExact(out, a.allocateFrom(clusterName), a.allocateFrom(clientName), 0L);
            check("rados_create2", r, "cluster " + clusterName + ", " + clientName);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void radosConfReadFile(long cluster, String path) {
        try (Arena a = Arena.ofConfined()) {
            check("rados_conf_read_file", (int) Rados.CONF_READ_FILE.invokeExact(cluster, a.allocateFrom(path)), path);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void radosConfSet(long cluster, String option, String value) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) Rados.CONF_SET.invokeExact(cluster, a.allocateFrom(option), a.allocateFrom(value));
            check("rados_conf_set", r, option + "=" + value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Connects to the monitors; bounded by client_mount_timeout. Returns 0 or a negative errno. */
    public static int radosConnect(long cluster) {
        try {
            return (int) Rados.CONNECT.invokeExact(cluster);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void radosShutdown(long cluster) {
        try {
            Rados.SHUTDOWN.invokeExact(cluster);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** rados_ioctx_create: 0 and the handle in {@code out[0]}, or a negative errno (-ENOENT: no such pool). */
    public static int radosIoctxCreate(long cluster, String pool, long[] out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment o = a.allocate(JAVA_LONG);
            int r = (int) Rados.IOCTX_CREATE.invokeExact(cluster, a.allocateFrom(pool), o);
            out[0] = o.get(JAVA_LONG, 0);
            return r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void radosIoctxDestroy(long ioctx) {
        try {
            Rados.IOCTX_DESTROY.invokeExact(ioctx);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void radosIoctxSetNamespace(long ioctx, String namespace) {
        try (Arena a = Arena.ofConfined()) {
            Rados.IOCTX_SET_NAMESPACE.invokeExact(ioctx, a.allocateFrom(namespace));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- librbd: the image (control path) ----

    /**
     * rbd_open (or rbd_open_read_only): 0 and the image handle in {@code out[0]}, or a negative
     * errno (-ENOENT: no such image or snapshot). {@code snap} may be null.
     */
    public static int rbdOpen(long ioctx, String image, String snap, boolean readOnly, long[] out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment o = a.allocate(JAVA_LONG);
            MemorySegment s = snap == null ? MemorySegment.NULL : a.allocateFrom(snap);
            int r = readOnly
                    ? (int) Rbd.OPEN_READ_ONLY.invokeExact(ioctx, a.allocateFrom(image), o, s)
                    : (int) Rbd.OPEN.invokeExact(ioctx, a.allocateFrom(image), o, s);
            out[0] = o.get(JAVA_LONG, 0);
            return r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void rbdClose(long image) {
        try {
            check("rbd_close", (int) Rbd.CLOSE.invokeExact(image), null);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The image's size now (librbd refreshes the header first if a resize was announced). */
    public static long rbdGetSize(long image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment o = a.allocate(JAVA_LONG);
            check("rbd_get_size", (int) Rbd.GET_SIZE.invokeExact(image, o), null);
            return o.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The image's object size in bytes (rbd_image_info_t.obj_size). */
    public static long rbdObjectSize(long image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(IMAGE_INFO_SIZE, 8);
            check("rbd_stat", (int) Rbd.STAT.invokeExact(image, info, IMAGE_INFO_SIZE), null);
            return info.get(JAVA_LONG, INFO_OBJ_SIZE_OFFSET);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long rbdGetFeatures(long image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment o = a.allocate(JAVA_LONG);
            check("rbd_get_features", (int) Rbd.GET_FEATURES.invokeExact(image, o), null);
            return o.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** rbd_resize: returns 0 or a negative errno. Blocks until the header is updated. */
    public static int rbdResize(long image, long size) {
        try {
            return (int) Rbd.RESIZE.invokeExact(image, size);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * rbd_lock_acquire(image, EXCLUSIVE): 0 once this client owns the lock and will not hand it to
     * others on request, or a negative errno (-EROFS: another live client holds it).
     */
    public static int rbdLockAcquireExclusive(long image) {
        try {
            return (int) Rbd.LOCK_ACQUIRE.invokeExact(image, LOCK_MODE_EXCLUSIVE);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The address ("IP:PORT/NONCE") of the client that holds the image's exclusive lock, or null if
     * nobody holds it (rbd_lock_get_owners; -ENOENT means no owner).
     */
    public static String rbdLockOwner(long image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mode = a.allocate(JAVA_INT);
            MemorySegment owners = a.allocate(ADDRESS);
            MemorySegment max = a.allocate(JAVA_LONG);
            max.set(JAVA_LONG, 0, 1);
            int r = (int) Rbd.LOCK_GET_OWNERS.invokeExact(image, mode, owners, max);
            if (r == -Errno.ENOENT) {
                return null;
            }
            check("rbd_lock_get_owners", r, null);
            long n = max.get(JAVA_LONG, 0);
            if (n == 0) {
                return null;
            }
            String owner = owners.get(ADDRESS, 0).reinterpret(Long.MAX_VALUE).getString(0);
            Rbd.LOCK_GET_OWNERS_CLEANUP.invokeExact(owners, n);
            return owner;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sizeof(rbd_image_watcher_t): char *addr, int64_t id, uint64_t cookie. */
    private static final long WATCHER_SIZE = 24;

    /** The addresses of the clients watching the image (alive: their watch has not expired), this one included. */
    public static java.util.List<String> rbdWatchers(long image) {
        int capacity = 16;
        while (true) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment watchers = a.allocate(WATCHER_SIZE * capacity, 8);
                MemorySegment max = a.allocate(JAVA_LONG);
                max.set(JAVA_LONG, 0, capacity);
                int r = (int) Rbd.WATCHERS_LIST.invokeExact(image, watchers, max);
                long n = max.get(JAVA_LONG, 0);
                if (r == -Errno.ERANGE && n > capacity) {
                    capacity = (int) Math.min(n, 1 << 16);
                    continue;
                }
                check("rbd_watchers_list", r, null);
                java.util.List<String> out = new java.util.ArrayList<>((int) n);
                for (long i = 0; i < n; i++) {
                    out.add(watchers.get(ADDRESS, i * WATCHER_SIZE).reinterpret(Long.MAX_VALUE).getString(0));
                }
                Rbd.WATCHERS_LIST_CLEANUP.invokeExact(watchers, n);
                return out;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    /** librbd writes to {@code eventFd} after each completion it queues for {@link #pollIoEvents}. */
    public static void rbdSetImageNotification(long image, int eventFd) {
        try {
            int r = (int) Rbd.SET_IMAGE_NOTIFICATION.invokeExact(image, eventFd, EVENT_TYPE_EVENTFD);
            check("rbd_set_image_notification", r, "eventfd " + eventFd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- librbd: per request (the poller's path; nothing here allocates) ----

    /**
     * rbd_aio_create_completion(arg, NULL, out): a completion with no callback, so it is handed
     * back only by {@link #pollIoEvents}. Returns 0 (handle in {@code out}) or a negative errno.
     * {@code arg} is an opaque number librbd returns untouched.
     */
    public static int aioCreateCompletion(long arg, MemorySegment out) {
        try {
            return (int) Rbd.AIO_CREATE_COMPLETION.invokeExact(arg, 0L, out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * rbd_aio_readv/rbd_aio_writev of {@code count} entries of {@code iov}, an array of struct iovec
     * built by {@link IoVec} (so every address in it is a live native segment's) that librbd reads
     * until the completion is polled. Returns 0 or a negative errno (then the completion never fires).
     */
    public static int aioReadWritev(boolean write, long image, MemorySegment iov, int count, long offset,
            long completion) {
        if (count < 0 || iov.byteSize() < 16L * count) {
            throw new IllegalArgumentException(count + " iovecs in " + iov.byteSize() + " bytes");
        }
        try {
            // SAFETY: iov holds `count` struct iovec (checked above) whose addresses IoVec took from
            // live native segments; the caller keeps them mapped until the completion is polled.
            return write
                    ? (int) Rbd.AIO_WRITEV.invokeExact(image, iov, count, offset, completion)
                    : (int) Rbd.AIO_READV.invokeExact(image, iov, count, offset, completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int aioDiscard(long image, long offset, long length, long completion) {
        try {
            return (int) Rbd.AIO_DISCARD.invokeExact(image, offset, length, completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int aioWriteZeroes(long image, long offset, long length, long completion) {
        try {
            return (int) Rbd.AIO_WRITE_ZEROES.invokeExact(image, offset, length, completion, 0, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int aioFlush(long image, long completion) {
        try {
            return (int) Rbd.AIO_FLUSH.invokeExact(image, completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The completed request's result: bytes moved or 0, or a negative errno. */
    public static long aioGetReturnValue(long completion) {
        try {
            return (long) Rbd.AIO_GET_RETURN_VALUE.invokeExact(completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long aioGetArg(long completion) {
        try {
            return (long) Rbd.AIO_GET_ARG.invokeExact(completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Frees a completion; only after it came out of {@link #pollIoEvents} or was never submitted. */
    public static void aioRelease(long completion) {
        try {
            Rbd.AIO_RELEASE.invokeExact(completion);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Moves up to {@code max} finished completions of {@code image} into {@code out} (an array of
     * pointers); returns how many, or a negative errno.
     */
    public static int pollIoEvents(long image, MemorySegment out, int max) {
        if (out.byteSize() < 8L * max) {
            throw new IllegalArgumentException("completion array of " + out.byteSize() + " bytes for " + max);
        }
        try {
            // SAFETY: out holds at least `max` pointers (checked above) and stays alive for the call.
            return (int) Rbd.POLL_IO_EVENTS.invokeExact(image, out, max);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
