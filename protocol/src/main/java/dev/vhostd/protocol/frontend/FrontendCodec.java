package dev.vhostd.protocol.frontend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Encodes front-end requests and decodes back-end replies (vhost-user.rst, "Message Specification"
 * and "Message types"). Everything is little-endian. Pure functions over byte arrays, so the whole
 * wire format is testable without a socket; the control path allocates freely, it runs a few dozen
 * times per connection.
 */
public final class FrontendCodec {
    /** Bit 8 of a SET_VRING_KICK/CALL/ERR payload: no fd is attached (polling mode). */
    public static final long VRING_NOFD_MASK = 0x100;
    /** The back-end must accept at least this many regions in SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEM_TABLE_REGIONS = 8;
    /** Largest payload this front-end accepts in a reply; vhost-user payloads are small (config space is 256 at most). */
    public static final int MAX_REPLY_PAYLOAD = 4096;
    static final int VRING_STATE_SIZE = 8;
    static final int VRING_ADDRESS_SIZE = 40;
    static final int REGION_SIZE = 32;
    static final int CONFIG_HEADER_SIZE = 12;
    /** The virtio config space is at most 256 bytes (virtio 1.x 4.1.4.6 device-specific window). */
    public static final int MAX_CONFIG_SIZE = 256;

    private FrontendCodec() {}

    /** A whole message: header (version 1 plus {@code extraFlags}) followed by {@code payload}. */
    public static byte[] message(int request, int extraFlags, byte[] payload) {
        if ((extraFlags & ~MessageHeader.FLAG_NEED_REPLY) != 0) {
            throw new IllegalArgumentException("a front-end request may only add NEED_REPLY, got flags 0x"
                    + Integer.toHexString(extraFlags));
        }
        ByteBuffer b = le(MessageHeader.SIZE + payload.length);
        b.putInt(request).putInt(MessageHeader.VERSION | extraFlags).putInt(payload.length).put(payload);
        return b.array();
    }

    public static byte[] u64(long value) {
        return le(8).putLong(value).array();
    }

    public static byte[] vringState(int index, int num) {
        return le(VRING_STATE_SIZE).putInt(index).putInt(num).array();
    }

    /** Payload of SET_VRING_KICK/CALL: the ring index in bits 0-7, bit 8 set when no fd is attached. */
    public static byte[] vringFile(int index, boolean noFd) {
        if (index < 0 || index > 0xFF) {
            throw new IllegalArgumentException("vring index " + index + " does not fit the 8-bit field of a vring file message");
        }
        return u64(index | (noFd ? VRING_NOFD_MASK : 0));
    }

    public static byte[] vringAddress(VringAddress a) {
        return le(VRING_ADDRESS_SIZE).putInt(a.index()).putInt(a.flags()).putLong(a.descUserAddress())
                .putLong(a.usedUserAddress()).putLong(a.availUserAddress()).putLong(a.logGuestAddress()).array();
    }

    /** SET_MEM_TABLE payload: u32 region count, u32 padding, then the regions; one fd per region travels alongside. */
    public static byte[] memoryTable(List<MemoryRegion> regions) {
        if (regions.isEmpty() || regions.size() > MAX_MEM_TABLE_REGIONS) {
            throw new IllegalArgumentException("a memory table holds 1.." + MAX_MEM_TABLE_REGIONS + " regions, got "
                    + regions.size());
        }
        ByteBuffer b = le(8 + REGION_SIZE * regions.size()).putInt(regions.size()).putInt(0);
        for (MemoryRegion r : regions) {
            b.putLong(r.guestAddress()).putLong(r.size()).putLong(r.userAddress()).putLong(r.mmapOffset());
        }
        return b.array();
    }

    /** GET_CONFIG request: offset, size, flags and {@code size} zero bytes the back-end fills in. */
    public static byte[] configRequest(int offset, int size) {
        if (offset < 0 || size <= 0 || size > MAX_CONFIG_SIZE - offset) {
            throw new IllegalArgumentException("config window " + offset + "+" + size + " is outside the 256-byte config space");
        }
        return le(CONFIG_HEADER_SIZE + size).putInt(offset).putInt(size).putInt(0).array();
    }

    /** SET_CONFIG payload: offset, size, flags (0) and the bytes to write. */
    public static byte[] configWrite(int offset, byte[] data) {
        if (offset < 0 || data.length == 0 || data.length > MAX_CONFIG_SIZE - offset) {
            throw new IllegalArgumentException("config window " + offset + "+" + data.length
                    + " is outside the 256-byte config space");
        }
        return le(CONFIG_HEADER_SIZE + data.length).putInt(offset).putInt(data.length).putInt(0).put(data).array();
    }

    public static MessageHeader decodeHeader(byte[] header) {
        if (header.length != MessageHeader.SIZE) {
            throw new IllegalArgumentException("a header is 12 bytes, got " + header.length);
        }
        ByteBuffer b = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        return new MessageHeader(b.getInt(), b.getInt(), b.getInt());
    }

    /**
     * Checks that {@code h} is a version-1 reply to {@code request} with a payload size this
     * front-end can read; throws {@link FrontendException} naming what was wrong otherwise.
     */
    public static void checkReplyHeader(MessageHeader h, int request) {
        if (h.version() != MessageHeader.VERSION) {
            throw new FrontendException("back-end answered with protocol version " + h.version() + ", expected 1");
        }
        if (!h.isReply()) {
            throw new FrontendException("back-end sent request " + h.request() + " without the REPLY flag while "
                    + "the front-end waited for the reply to request " + request);
        }
        if (h.request() != request) {
            throw new FrontendException("back-end replied to request " + h.request() + ", expected a reply to "
                    + request);
        }
        if (h.size() < 0 || h.size() > MAX_REPLY_PAYLOAD) {
            throw new FrontendException("back-end reply to request " + request + " claims a payload of "
                    + Integer.toUnsignedString(h.size()) + " bytes (limit " + MAX_REPLY_PAYLOAD + ")");
        }
    }

    /** struct VhostUserInflight, 24 bytes as QEMU sends it. */
    public static byte[] inflight(long mmapSize, long mmapOffset, int numQueues, int queueSize) {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(mmapSize).putLong(mmapOffset).putShort((short) numQueues).putShort((short) queueSize);
        return b.array();
    }

    public static long decodeU64(byte[] payload) {
        expectSize(payload, 8, "u64");
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    public static VringState decodeVringState(byte[] payload) {
        expectSize(payload, VRING_STATE_SIZE, "vring state");
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        return new VringState(b.getInt(), b.getInt());
    }

    /**
     * Decodes a GET_CONFIG reply for the window {@code offset+size} that was asked for. A back-end
     * signals failure with an empty payload (vhost-user.rst GET_CONFIG); that and any window other
     * than the one requested is an error.
     */
    public static DeviceConfig decodeConfig(byte[] payload, int offset, int size) {
        if (payload.length == 0) {
            throw new FrontendException("back-end refused GET_CONFIG for bytes " + offset + "+" + size
                    + " (empty reply): it may not implement the config space or the window is too large");
        }
        if (payload.length < CONFIG_HEADER_SIZE) {
            throw new FrontendException("GET_CONFIG reply of " + payload.length + " bytes is shorter than its 12-byte header");
        }
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        int rOffset = b.getInt();
        int rSize = b.getInt();
        int rFlags = b.getInt();
        if (rOffset != offset || rSize != size || payload.length != CONFIG_HEADER_SIZE + size) {
            throw new FrontendException("GET_CONFIG reply describes bytes " + rOffset + "+" + rSize + " in "
                    + payload.length + " bytes, expected " + offset + "+" + size);
        }
        byte[] data = new byte[size];
        b.get(data);
        return new DeviceConfig(offset, rFlags, data);
    }

    private static void expectSize(byte[] payload, int size, String what) {
        if (payload.length != size) {
            throw new FrontendException("expected a " + size + "-byte " + what + " payload, got " + payload.length
                    + " bytes");
        }
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
