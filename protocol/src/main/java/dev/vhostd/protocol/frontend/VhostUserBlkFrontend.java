package dev.vhostd.protocol.frontend;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

/**
 * A complete vhost-user-blk front-end session, set up the way QEMU does it: feature and protocol
 * feature negotiation, SET_OWNER, the config space, one memfd region of guest RAM, and
 * {@code queues} split rings with kick and call eventfds, enabled. The caller carves request
 * buffers out of {@link #ram()} and drives {@link #queue(int)}.
 */
public final class VhostUserBlkFrontend implements AutoCloseable {
    /**
     * @param queues      rings to set up (at most what the back-end offers)
     * @param queueSize   entries per ring, a power of two
     * @param eventIdx    negotiate VIRTIO_RING_F_EVENT_IDX (fails if the back-end does not offer it)
     * @param bufferBytes guest RAM to reserve for request buffers beyond the rings
     */
    public record Options(int queues, int queueSize, boolean eventIdx, long bufferBytes, long blkFeatures) {
        /** The virtio-blk feature bits QEMU's vhost-user-blk-pci takes by default (without CONFIG_WCE). */
        public static final long DEFAULT_BLK_FEATURES = FeatureBits.bit(VirtioBlkSpec.F_SIZE_MAX)
                | FeatureBits.bit(VirtioBlkSpec.F_SEG_MAX) | FeatureBits.bit(VirtioBlkSpec.F_BLK_SIZE)
                | FeatureBits.bit(VirtioBlkSpec.F_FLUSH) | FeatureBits.bit(VirtioBlkSpec.F_TOPOLOGY)
                | FeatureBits.bit(VirtioBlkSpec.F_MQ) | FeatureBits.bit(VirtioBlkSpec.F_RO);

        public Options(int queues, int queueSize, boolean eventIdx, long bufferBytes) {
            this(queues, queueSize, eventIdx, bufferBytes, DEFAULT_BLK_FEATURES);
        }

        public Options {
            if (queues < 1 || queues > 0xFF) {
                throw new IllegalArgumentException("queues must be 1..255, got " + queues);
            }
            if (bufferBytes < 0) {
                throw new IllegalArgumentException("buffer bytes must not be negative");
            }
        }
    }

    private final VhostUserFrontend connection;
    private final GuestRam ram;
    private final DriverQueue[] queues;
    private final int[] kickFds;
    private final int[] callFds;
    private final long features;
    private final long protocolFeatures;
    /** The back-end's inflight area (INFLIGHT_SHMFD), kept while connected as QEMU keeps it; -1 if none. */
    private int inflightFd = -1;
    private final int backendQueues;
    private final long capacityBytes;
    private final int blockSize;

    private VhostUserBlkFrontend(VhostUserFrontend connection, Options o, boolean sealMemory) throws IOException {
        this.connection = connection;
        int n = o.queues();
        kickFds = new int[n];
        callFds = new int[n];
        java.util.Arrays.fill(kickFds, -1);
        java.util.Arrays.fill(callFds, -1);
        queues = new DriverQueue[n];
        long ringBytes = 3L * 4096 * (1 + (16L * o.queueSize() + 4095) / 4096);
        long ramSize = (Math.addExact(Math.multiplyExact(ringBytes, n), o.bufferBytes()) + 4095) & -4096L;
        GuestRam r = new GuestRam(ramSize, GuestRam.DEFAULT_GUEST_BASE, sealMemory);
        this.ram = r;
        try {
            long offered = connection.getFeatures();
            if (!FeatureBits.has(offered, FeatureBits.VERSION_1)) {
                throw new FrontendException("back-end does not offer VIRTIO_F_VERSION_1 (features 0x"
                        + Long.toHexString(offered) + "); vhost-user-blk needs a virtio 1.x device");
            }
            if (o.eventIdx() && !FeatureBits.has(offered, FeatureBits.RING_EVENT_IDX)) {
                throw new FrontendException("back-end does not offer VIRTIO_RING_F_EVENT_IDX; run with event-idx off");
            }
            long wanted = FeatureBits.bit(FeatureBits.VERSION_1)
                    | FeatureBits.bit(FeatureBits.VHOST_USER_PROTOCOL_FEATURES)
                    | (o.eventIdx() ? FeatureBits.bit(FeatureBits.RING_EVENT_IDX) : 0)
                    | o.blkFeatures();
            long negotiated = offered & wanted;
            long proto = 0;
            if (FeatureBits.has(negotiated, FeatureBits.VHOST_USER_PROTOCOL_FEATURES)) {
                long wantedProto = (1L << FeatureBits.PROTOCOL_MQ) | (1L << FeatureBits.PROTOCOL_REPLY_ACK)
                        | (1L << FeatureBits.PROTOCOL_CONFIG) | (1L << FeatureBits.PROTOCOL_INFLIGHT_SHMFD)
                        | (1L << FeatureBits.PROTOCOL_LOG_SHMFD);
                proto = connection.getProtocolFeatures() & wantedProto;
                connection.setProtocolFeatures(proto);
            }
            protocolFeatures = proto;
            backendQueues = (proto & (1L << FeatureBits.PROTOCOL_MQ)) != 0 ? connection.getQueueNum() : 1;
            if (n > backendQueues) {
                throw new FrontendException("asked for " + n + " queues but the back-end offers " + backendQueues
                        + " (start it with more queues, or ask for fewer)");
            }
            connection.setOwner();
            if ((proto & (1L << FeatureBits.PROTOCOL_CONFIG)) != 0) {
                DeviceConfig c = connection.getConfig(0, VirtioBlkSpec.CONFIG_READ_SIZE);
                capacityBytes = Math.multiplyExact(c.u64(VirtioBlkSpec.CONFIG_CAPACITY), (long) VirtioBlkSpec.SECTOR_SIZE);
                blockSize = FeatureBits.has(negotiated, VirtioBlkSpec.F_BLK_SIZE)
                        ? c.u32(VirtioBlkSpec.CONFIG_BLK_SIZE) : VirtioBlkSpec.SECTOR_SIZE;
            } else {
                capacityBytes = -1;
                blockSize = VirtioBlkSpec.SECTOR_SIZE;
            }
            connection.setFeatures(negotiated);
            features = negotiated;
            if ((proto & (1L << FeatureBits.PROTOCOL_INFLIGHT_SHMFD)) != 0) {
                // As QEMU does: take the back-end's tracking area and hand it back before the rings start,
                // so the measured path includes the back-end's inflight bookkeeping.
                VhostUserFrontend.InflightArea a = connection.getInflightFd(n, o.queueSize());
                inflightFd = a.fd();
                if (a.fd() >= 0 && a.mmapSize() > 0) {
                    connection.setInflightFd(a.mmapSize(), a.mmapOffset(), n, o.queueSize(), a.fd());
                }
            }
            boolean useEventIdx = FeatureBits.has(negotiated, FeatureBits.RING_EVENT_IDX);
            for (int i = 0; i < n; i++) {
                kickFds[i] = EventFd.create();
                callFds[i] = EventFd.create();
                EventFd signaller = new EventFd();
                int kfd = kickFds[i];
                queues[i] = new DriverQueue(r, i, o.queueSize(), useEventIdx, () -> signaller.signal(kfd));
            }
            connection.setMemTable(List.of(r.region()), new int[] {r.fd()});
            for (int i = 0; i < n; i++) {
                connection.setVringNum(i, o.queueSize());
                connection.setVringBase(i, 0);
                connection.setVringAddr(queues[i].address(r));
                // Call before kick: the ring starts on SET_VRING_KICK and may complete at once.
                connection.setVringCall(i, callFds[i]);
                connection.setVringKick(i, kickFds[i]);
            }
            if (FeatureBits.has(negotiated, FeatureBits.VHOST_USER_PROTOCOL_FEATURES)) {
                // With VHOST_USER_F_PROTOCOL_FEATURES rings start disabled (vhost-user.rst "Ring states").
                for (int i = 0; i < n; i++) {
                    connection.setVringEnable(i, true);
                }
            }
        } catch (IOException | RuntimeException e) {
            closeFds();
            r.close();
            throw e;
        }
    }

    /** Connects to {@code socket} and sets up the device; see {@link Options}. */
    public static VhostUserBlkFrontend open(Path socket, Options options) throws IOException {
        return open(socket, options, true);
    }

    /**
     * Like {@link #open(Path, Options)}; {@code sealMemory} false leaves guest RAM truncatable (like
     * QEMU's memory-backend-file), for tests of a front-end that shrinks it.
     */
    public static VhostUserBlkFrontend open(Path socket, Options options, boolean sealMemory) throws IOException {
        VhostUserFrontend c = VhostUserFrontend.connect(socket);
        try {
            return new VhostUserBlkFrontend(c, options, sealMemory);
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public VhostUserFrontend connection() {
        return connection;
    }

    public GuestRam ram() {
        return ram;
    }

    public int queueCount() {
        return queues.length;
    }

    public DriverQueue queue(int i) {
        return queues[i];
    }

    /** The call eventfd of queue {@code i} (non-blocking): the back-end signals completions on it. */
    public int callFd(int i) {
        return callFds[i];
    }

    public long features() {
        return features;
    }

    public long protocolFeatures() {
        return protocolFeatures;
    }

    public int backendQueues() {
        return backendQueues;
    }

    /** Disk size in bytes from the config space, or -1 if the back-end has no CONFIG protocol feature. */
    public long capacityBytes() {
        return capacityBytes;
    }

    public int blockSize() {
        return blockSize;
    }

    public boolean readOnly() {
        return FeatureBits.has(features, VirtioBlkSpec.F_RO);
    }

    /**
     * Turns on dirty-page logging the way QEMU does when a migration starts: a memfd bitmap covering
     * guest RAM (SET_LOG_BASE), VHOST_F_LOG_ALL (SET_FEATURES) and VHOST_VRING_F_LOG on every ring
     * with the used ring's guest address. The returned log is the caller's; like QEMU's migration
     * thread, its {@link DirtyLogArea#takeAll()} reads and clears the bits.
     */
    public DirtyLogArea startDirtyLogging() throws IOException {
        if ((protocolFeatures & (1L << FeatureBits.PROTOCOL_LOG_SHMFD)) == 0) {
            throw new FrontendException("the back-end does not offer LOG_SHMFD: it cannot log dirty pages");
        }
        if ((connection.getFeatures() & FeatureBits.bit(FeatureBits.LOG_ALL)) == 0) {
            throw new FrontendException("the back-end does not offer VHOST_F_LOG_ALL");
        }
        long end = ram.region().guestAddress() + ram.region().size();
        // One bit per 4 KiB page from address 0, in whole 64-bit chunks as QEMU sizes it.
        long bytes = ((end + (4096L * 64) - 1) / (4096L * 64)) * 8;
        DirtyLogArea log = new DirtyLogArea(bytes);
        try {
            connection.setLogBase(bytes, 0, log.fd());
            connection.setFeatures(features | FeatureBits.bit(FeatureBits.LOG_ALL));
            for (int i = 0; i < queues.length; i++) {
                VringAddress a = queues[i].address(ram);
                connection.setVringAddr(new VringAddress(i, 1, a.descUserAddress(), a.usedUserAddress(),
                        a.availUserAddress(), queues[i].usedGuestAddress()));
            }
            return log;
        } catch (IOException | RuntimeException e) {
            log.close();
            throw e;
        }
    }

    /** Stops every ring (GET_VRING_BASE) and returns each ring's final avail index as the back-end saw it. */
    public int[] stopQueues() throws IOException {
        int[] bases = new int[queues.length];
        for (int i = 0; i < queues.length; i++) {
            bases[i] = connection.getVringBase(i);
        }
        return bases;
    }

    private void closeFds() {
        if (inflightFd >= 0) {
            Libc.close(inflightFd);
            inflightFd = -1;
        }
        for (int i = 0; i < kickFds.length; i++) {
            if (kickFds[i] >= 0) {
                Libc.close(kickFds[i]);
                kickFds[i] = -1;
            }
            if (callFds[i] >= 0) {
                Libc.close(callFds[i]);
                callFds[i] = -1;
            }
        }
    }

    /** Closes the connection (the back-end drops the device), then the eventfds and the RAM. */
    @Override
    public void close() throws IOException {
        try {
            connection.close();
        } finally {
            closeFds();
            ram.close();
        }
    }
}
