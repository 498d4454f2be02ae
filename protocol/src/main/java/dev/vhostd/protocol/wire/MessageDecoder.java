package dev.vhostd.protocol.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import dev.vhostd.sys.OwnedFd;

import static dev.vhostd.protocol.wire.WireFormat.*;

/**
 * Turns one received message (header fields, payload, attached fds) into a validated {@link Message}.
 * The peer is hostile: every size, count and bit is checked against what the request allows
 * (vhost-user.rst, "Front-end message types"), and only the requests that carry fds may carry them
 * (rust-vmm's check_attached_files does the same).
 *
 * <p>Fd ownership: on success the returned message owns the fds it carries and every other fd has
 * been closed; on any exception every fd in {@code fds} has been closed.
 */
public final class MessageDecoder {
    private MessageDecoder() {}

    /**
     * @param code    the header's request field
     * @param flags   the header's flags field
     * @param payload the payload bytes, from position to limit (the header's size); not modified
     * @param fds     fds received with the message, already duplicated; ownership passes to this call
     * @throws VhostUserException fatal for a broken header, otherwise a rejection of this request
     */
    public static Message decode(int code, int flags, ByteBuffer payload, List<OwnedFd> fds) {
        try {
            checkFlags(flags);
            Request request = Request.of(code);
            if (request == null) {
                throw VhostUserException.rejected(WireFormat.describe(code)
                        + " is not supported by vhostd (" + payload.remaining() + "-byte payload ignored)");
            }
            ByteBuffer p = payload.slice().order(ByteOrder.LITTLE_ENDIAN);
            return decode(request, p, fds);
        } catch (RuntimeException e) {
            try {
                closeAll(fds);
            } catch (RuntimeException closeFailure) {
                e.addSuppressed(closeFailure);
            }
            throw e;
        }
    }

    /** Version bits must be 1, the reply bit is ours to set, and no undefined bit may be set. */
    private static void checkFlags(int flags) {
        if ((flags & VERSION_MASK) != VERSION || (flags & FLAG_REPLY) != 0 || (flags & ~KNOWN_FLAGS) != 0) {
            throw VhostUserException.fatal(String.format(
                    "bad header flags 0x%x: expected version 1 (bits 0-1), reply bit 2 clear and no bits"
                            + " above 3; the front-end speaks another protocol or the stream lost framing", flags));
        }
    }

    private static Message decode(Request r, ByteBuffer p, List<OwnedFd> fds) {
        return switch (r) {
            case GET_FEATURES -> { empty(r, p, fds); yield new Message.GetFeatures(); }
            case SET_OWNER -> { empty(r, p, fds); yield new Message.SetOwner(); }
            case RESET_OWNER -> { empty(r, p, fds); yield new Message.ResetOwner(); }
            case GET_PROTOCOL_FEATURES -> { empty(r, p, fds); yield new Message.GetProtocolFeatures(); }
            case GET_QUEUE_NUM -> { empty(r, p, fds); yield new Message.GetQueueNum(); }
            case RESET_DEVICE -> { empty(r, p, fds); yield new Message.ResetDevice(); }
            case GET_MAX_MEM_SLOTS -> { empty(r, p, fds); yield new Message.GetMaxMemSlots(); }
            case SET_FEATURES -> new Message.SetFeatures(u64(r, p, fds));
            case SET_PROTOCOL_FEATURES -> new Message.SetProtocolFeatures(u64(r, p, fds));
            case SET_MEM_TABLE -> memTable(p, fds);
            case SET_LOG_BASE -> {
                size(r, p, LOG_SIZE);
                // No fd is the old shared-memory-less form; the engine refuses it with a reason.
                if (fds.size() > 1) {
                    throw reject(r, fds.size() + " fds attached, expected one (the log's memory) (all closed)");
                }
                yield new Message.SetLogBase(p.getLong(0), p.getLong(8), fds.isEmpty() ? null : fds.getFirst());
            }
            case SET_LOG_FD -> {
                size(r, p, 0);
                fdCount(r, fds, 1, "exactly one eventfd");
                yield new Message.SetLogFd(fds.getFirst());
            }
            case SET_VRING_NUM -> {
                vringState(r, p, fds);
                yield new Message.SetVringNum(index(r, p.getInt(0)), u16(r, "num", p.getInt(4)));
            }
            case SET_VRING_BASE -> {
                vringState(r, p, fds);
                yield new Message.SetVringBase(index(r, p.getInt(0)), u16(r, "num", p.getInt(4)));
            }
            case GET_VRING_BASE -> {
                // The num field of the request is unused (vhost-user.rst: request payload is a vring state).
                vringState(r, p, fds);
                yield new Message.GetVringBase(index(r, p.getInt(0)));
            }
            case SET_VRING_ENABLE -> {
                vringState(r, p, fds);
                int num = p.getInt(4);
                if (num != 0 && num != 1) {
                    throw reject(r, "enable value " + Integer.toUnsignedString(num) + " is neither 0 nor 1");
                }
                yield new Message.SetVringEnable(index(r, p.getInt(0)), num == 1);
            }
            case SET_VRING_ADDR -> vringAddr(p, fds);
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> vringFd(r, p, fds);
            case SET_BACKEND_REQ_FD -> {
                size(r, p, 0);
                fdCount(r, fds, 1, "exactly one fd (the back-end's end of the channel)");
                yield new Message.SetBackendReqFd(fds.getFirst());
            }
            case GET_CONFIG -> {
                noFds(r, fds);
                Config c = config(r, p);
                yield new Message.GetConfig(c.offset, c.size, c.flags);
            }
            case SET_CONFIG -> {
                noFds(r, fds);
                Config c = config(r, p);
                byte[] data = new byte[c.size];
                p.get(CONFIG_HEADER_SIZE, data);
                yield new Message.SetConfig(c.offset, c.flags, data);
            }
            case GET_INFLIGHT_FD -> {
                inflightSize(r, p);
                noFds(r, fds);
                yield new Message.GetInflightFd(Short.toUnsignedInt(p.getShort(16)), Short.toUnsignedInt(p.getShort(18)));
            }
            case SET_INFLIGHT_FD -> {
                inflightSize(r, p);
                fdCount(r, fds, 1, "exactly one fd (the inflight area)");
                long size = p.getLong(0);
                long offset = p.getLong(8);
                if (size <= 0 || offset < 0 || offset + size < 0) {
                    throw reject(r, "mmap_size " + Long.toUnsignedString(size) + " at mmap_offset "
                            + Long.toUnsignedString(offset) + " is not a usable range");
                }
                yield new Message.SetInflightFd(size, offset, Short.toUnsignedInt(p.getShort(16)),
                        Short.toUnsignedInt(p.getShort(18)), fds.getFirst());
            }
            case ADD_MEM_REG -> {
                size(r, p, SINGLE_REGION_SIZE);
                fdCount(r, fds, 1, "exactly one fd (the region's memory)");
                Message.MemoryRegion region = region(r, p, 8);
                yield new Message.AddMemReg(region, fds.getFirst());
            }
            case REM_MEM_REG -> {
                size(r, p, SINGLE_REGION_SIZE);
                if (fds.size() > 1) {
                    throw reject(r, fds.size() + " fds attached; at most one is tolerated");
                }
                Message.MemoryRegion region = region(r, p, 8);
                // vhost-user.rst: a back-end MAY accept one fd here and MUST close it unused.
                closeAll(fds);
                yield new Message.RemMemReg(region);
            }
        };
    }

    private static void inflightSize(Request r, ByteBuffer p) {
        if (p.remaining() != INFLIGHT_SIZE && p.remaining() != INFLIGHT_MIN_SIZE) {
            throw reject(r, "payload is " + p.remaining() + " bytes; struct VhostUserInflight is " + INFLIGHT_SIZE
                    + " (or " + INFLIGHT_MIN_SIZE + " unpadded)");
        }
    }

    private static void empty(Request r, ByteBuffer p, List<OwnedFd> fds) {
        size(r, p, 0);
        noFds(r, fds);
    }

    private static long u64(Request r, ByteBuffer p, List<OwnedFd> fds) {
        size(r, p, 8);
        noFds(r, fds);
        return p.getLong(0);
    }

    private static void vringState(Request r, ByteBuffer p, List<OwnedFd> fds) {
        size(r, p, VRING_STATE_SIZE);
        noFds(r, fds);
    }

    private static Message memTable(ByteBuffer p, List<OwnedFd> fds) {
        Request r = Request.SET_MEM_TABLE;
        if (p.remaining() < MEM_TABLE_HEADER_SIZE) {
            throw reject(r, "payload of " + p.remaining() + " bytes is shorter than the 8-byte table header");
        }
        int n = p.getInt(0);
        if (n < 1 || n > MAX_MEM_TABLE_REGIONS) {
            throw reject(r, "region count " + Integer.toUnsignedString(n) + " is outside 1.." + MAX_MEM_TABLE_REGIONS);
        }
        size(r, p, MEM_TABLE_HEADER_SIZE + n * MEMORY_REGION_SIZE);
        fdCount(r, fds, n, "one fd per region (" + n + ")");
        Message.MemoryRegion[] regions = new Message.MemoryRegion[n];
        for (int i = 0; i < n; i++) {
            regions[i] = region(r, p, MEM_TABLE_HEADER_SIZE + i * MEMORY_REGION_SIZE);
        }
        return new Message.SetMemTable(List.of(regions), List.copyOf(fds));
    }

    /**
     * One struct vhost_user_memory_region. Checks only what the wire format itself makes nonsense:
     * an empty region, or a region whose end wraps past 2^64 in any of its address spaces. Whether
     * it overlaps others or fits its fd is the engine's business.
     */
    private static Message.MemoryRegion region(Request r, ByteBuffer p, int at) {
        long gpa = p.getLong(at);
        long size = p.getLong(at + 8);
        long uaddr = p.getLong(at + 16);
        long offset = p.getLong(at + 24);
        if (size == 0) {
            throw reject(r, String.format("memory region at guest address 0x%x has size 0", gpa));
        }
        wraps(r, "guest address", gpa, size);
        wraps(r, "user address", uaddr, size);
        wraps(r, "mmap offset", offset, size);
        return new Message.MemoryRegion(gpa, size, uaddr, offset);
    }

    /** base + size - 1 must not pass 2^64 - 1 (unsigned). */
    private static void wraps(Request r, String what, long base, long size) {
        long last = base + (size - 1);
        if (Long.compareUnsigned(last, base) < 0) {
            throw reject(r, String.format("memory region %s 0x%x + size 0x%x wraps past 2^64", what, base, size));
        }
    }

    private static Message vringAddr(ByteBuffer p, List<OwnedFd> fds) {
        Request r = Request.SET_VRING_ADDR;
        size(r, p, VRING_ADDR_SIZE);
        noFds(r, fds);
        int index = index(r, p.getInt(0));
        int flags = p.getInt(4);
        if ((flags & ~Message.SetVringAddr.F_LOG) != 0) {
            throw reject(r, String.format("ring %d: undefined flags 0x%x (only VHOST_VRING_F_LOG = 1 exists)", index, flags));
        }
        return new Message.SetVringAddr(index, flags, p.getLong(8), p.getLong(16), p.getLong(24), p.getLong(32));
    }

    /** SET_VRING_KICK/CALL/ERR: u64 with index in bits 0-7, invalid-fd flag in bit 8, nothing else. */
    private static Message vringFd(Request r, ByteBuffer p, List<OwnedFd> fds) {
        size(r, p, 8);
        long v = p.getLong(0);
        if ((v & ~(VRING_FD_INDEX_MASK | VRING_FD_NO_FD)) != 0) {
            throw reject(r, String.format("payload 0x%x sets bits other than the index (0-7) and no-fd flag (8)", v));
        }
        int index = (int) (v & VRING_FD_INDEX_MASK);
        boolean noFd = (v & VRING_FD_NO_FD) != 0;
        if (noFd) {
            fdCount(r, fds, 0, "no fd, since the invalid-fd flag (bit 8) is set");
            return new Message.SetVringFd(r, index, true, null);
        }
        fdCount(r, fds, 1, "exactly one eventfd, since the invalid-fd flag (bit 8) is clear");
        return new Message.SetVringFd(r, index, false, fds.getFirst());
    }

    private record Config(int offset, int size, int flags) {}

    /** VhostUserConfig: offset, size, flags, then exactly size bytes; the access stays within 256 bytes. */
    private static Config config(Request r, ByteBuffer p) {
        if (p.remaining() < CONFIG_HEADER_SIZE) {
            throw reject(r, "payload of " + p.remaining() + " bytes is shorter than the 12-byte config header");
        }
        long offset = Integer.toUnsignedLong(p.getInt(0));
        long size = Integer.toUnsignedLong(p.getInt(4));
        int flags = p.getInt(8);
        if (size > MAX_CONFIG_SIZE) {
            throw reject(r, "config access of " + size + " bytes exceeds the " + MAX_CONFIG_SIZE + "-byte maximum");
        }
        size(r, p, CONFIG_HEADER_SIZE + (int) size);
        if (offset + size > MAX_CONFIG_SIZE) {
            throw reject(r, "config access at offset " + offset + " of " + size + " bytes ends beyond byte "
                    + MAX_CONFIG_SIZE);
        }
        // vhost-user.rst "Virtio device config space": 0 = front-end write, 1 = live migration.
        if (flags != 0 && flags != 1) {
            throw reject(r, "config flags " + Integer.toUnsignedString(flags) + " are neither 0 (front-end) nor 1 (migration)");
        }
        return new Config((int) offset, (int) size, flags);
    }

    private static int index(Request r, int index) {
        if (Integer.compareUnsigned(index, MAX_VRING_INDEX) > 0) {
            throw reject(r, "ring index " + Integer.toUnsignedString(index) + " is outside 0.." + MAX_VRING_INDEX);
        }
        return index;
    }

    /** Split rings have at most 32768 entries and 16-bit indices (virtio 1.2, 2.7). */
    private static int u16(Request r, String what, int value) {
        if (Integer.compareUnsigned(value, 0xffff) > 0) {
            throw reject(r, what + " " + Integer.toUnsignedString(value) + " does not fit 16 bits");
        }
        return value;
    }

    private static void size(Request r, ByteBuffer p, int expected) {
        if (p.remaining() != expected) {
            throw reject(r, "payload is " + p.remaining() + " bytes, expected exactly " + expected);
        }
    }

    private static void noFds(Request r, List<OwnedFd> fds) {
        if (!fds.isEmpty()) {
            throw reject(r, fds.size() + " fds attached to a message that carries none (all closed)");
        }
    }

    private static void fdCount(Request r, List<OwnedFd> fds, int expected, String rule) {
        if (fds.size() != expected) {
            throw reject(r, fds.size() + " fds attached, expected " + rule + " (all closed)");
        }
    }

    private static VhostUserException reject(Request r, String why) {
        return VhostUserException.rejected(r.name() + ": " + why);
    }

    /** Closes every fd, continuing past failures so none leaks. */
    public static void closeAll(List<OwnedFd> fds) {
        RuntimeException first = null;
        for (OwnedFd fd : fds) {
            try {
                fd.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
