package dev.vhostd.daemon.disk;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Owns the daemon's disks. The command line, the config file and the control API all add and
 * remove disks here and nowhere else. Names and socket paths are unique, including those of disks
 * still being removed; adding either succeeds completely or leaves nothing behind.
 */
public final class DiskRegistry implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vhostd");

    private final DiskRuntime runtime;
    private final Map<String, Disk> disks = new LinkedHashMap<>();
    /** Names and sockets of disks being added or removed: taken, though not in {@link #disks}. */
    private final Set<String> busyNames = new HashSet<>();
    private final Set<Path> busySockets = new HashSet<>();
    private boolean closed;

    public DiskRegistry(DiskRuntime runtime) {
        this.runtime = runtime;
    }

    public DiskRuntime runtime() {
        return runtime;
    }

    /** Adds a disk that listens on {@code spec.socket()}; see {@link #add(DiskSpec, long, Disk.Endpoint)}. */
    public Disk add(DiskSpec spec) {
        return add(spec, 0, null);
    }

    /**
     * Validates {@code spec}, opens its backend, creates its socket (or adopts {@code endpoint}) and
     * starts serving it.
     *
     * @param createSize create a missing file backend with this size (0: it must exist)
     * @param endpoint   null to bind {@code spec.socket()}, else an inherited socket
     * @throws DiskException saying what is wrong; nothing of the disk remains then
     */
    public Disk add(DiskSpec spec, long createSize, Disk.Endpoint endpoint) {
        if (endpoint == null) {
            spec.validate();
            endpoint = new Disk.Endpoint.Bind(spec.socketPath());
        } else {
            DiskSpec.requireName(spec.name());
        }
        Path socket = endpoint instanceof Disk.Endpoint.Bind b ? b.path() : null;
        synchronized (this) {
            if (closed) {
                throw new DiskException(DiskException.Reason.BUSY, "the daemon is shutting down");
            }
            if (disks.containsKey(spec.name()) || busyNames.contains(spec.name())) {
                throw new DiskException(DiskException.Reason.ALREADY_EXISTS, "a disk named " + spec.name()
                        + " already exists; choose another name or remove it first");
            }
            if (socket != null) {
                for (Disk d : disks.values()) {
                    if (socket.equals(d.socketPath())) {
                        throw new DiskException(DiskException.Reason.ALREADY_EXISTS, "socket " + socket
                                + " is already used by disk " + d.name() + "; give each disk its own socket");
                    }
                }
                if (busySockets.contains(socket)) {
                    throw new DiskException(DiskException.Reason.ALREADY_EXISTS, "socket " + socket
                            + " belongs to a disk being added or removed; try again in a moment");
                }
                busySockets.add(socket);
            }
            busyNames.add(spec.name());
        }
        Disk disk = null;
        try {
            // Outside the lock: opening a backend or a socket may take a while, and the API stays responsive.
            disk = Disk.open(spec, createSize, endpoint, runtime);
            synchronized (this) {
                if (closed) {
                    throw new DiskException(DiskException.Reason.BUSY, "the daemon is shutting down");
                }
                disks.put(spec.name(), disk);
                disk.start();
            }
            return disk;
        } catch (RuntimeException e) {
            if (disk != null && !disks.containsValue(disk)) {
                disk.stop(true);
            }
            throw e;
        } finally {
            synchronized (this) {
                busyNames.remove(spec.name());
                if (socket != null) {
                    busySockets.remove(socket);
                }
            }
        }
    }

    /** The disk named {@code name}. */
    public synchronized Disk get(String name) {
        Disk d = disks.get(name);
        if (d == null) {
            throw new DiskException(DiskException.Reason.NOT_FOUND, "no disk named " + name
                    + (disks.isEmpty() ? " (the daemon has no disks)" : "; disks: " + String.join(", ", disks.keySet())));
        }
        return d;
    }

    /** All disks in the order they were added. */
    public synchronized List<Disk> list() {
        return new ArrayList<>(disks.values());
    }

    public synchronized int size() {
        return disks.size();
    }

    /**
     * Removes a disk: refused while a front-end is attached unless {@code force} (see
     * {@link Disk#stop(boolean)}).
     */
    public void remove(String name, boolean force) {
        Disk d;
        synchronized (this) {
            d = get(name);
            if (!force && d.attached()) {
                d.stop(false); // throws BUSY with the front-end's details
            }
            disks.remove(name);
            busyNames.add(name);
            if (d.socketPath() != null) {
                busySockets.add(d.socketPath());
            }
        }
        try {
            d.stop(true);
        } finally {
            synchronized (this) {
                busyNames.remove(name);
                if (d.socketPath() != null) {
                    busySockets.remove(d.socketPath());
                }
            }
        }
    }

    /** The disks a {@code --config} file can recreate: those on sockets vhostd creates itself. */
    public synchronized List<DiskSpec> specs() {
        List<DiskSpec> out = new ArrayList<>();
        for (Disk d : disks.values()) {
            if (d.endpoint() instanceof Disk.Endpoint.Bind) {
                out.add(d.spec());
            }
        }
        return out;
    }

    /** Stops every disk (front-ends are disconnected after their in-flight requests complete). */
    @Override
    public void close() {
        List<Disk> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(disks.values());
            disks.clear();
        }
        // Newest first, the reverse of creation, like the try-with-resources this replaces.
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).stop(true);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "disk " + all.get(i).name() + " did not stop cleanly", e);
            }
        }
    }
}
