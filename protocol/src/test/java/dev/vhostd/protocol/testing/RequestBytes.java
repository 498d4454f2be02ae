package dev.vhostd.protocol.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.WireFormat;

/** Builds front-end request bytes as QEMU lays them out (vhost-user.rst, "Message Specification"). */
public final class RequestBytes {
    private RequestBytes() {}

    /** Header (code, flags, size = payload length) followed by the payload. */
    public static byte[] message(int code, int flags, byte[] payload) {
        return le(WireFormat.HEADER_SIZE + payload.length)
                .putInt(code).putInt(flags).putInt(payload.length).put(payload).array();
    }

    /** Flags of a request: version 1, plus need_reply if asked. */
    public static int flags(boolean needReply) {
        return WireFormat.VERSION | (needReply ? WireFormat.FLAG_NEED_REPLY : 0);
    }

    public static byte[] none() {
        return new byte[0];
    }

    public static byte[] u64(long v) {
        return le(8).putLong(v).array();
    }

    public static byte[] vringState(int index, int num) {
        return le(8).putInt(index).putInt(num).array();
    }

    public static byte[] vringAddr(int index, int flags, long desc, long used, long avail, long log) {
        return le(40).putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail).putLong(log).array();
    }

    /** SET_VRING_KICK/CALL/ERR payload: index in bits 0-7, bit 8 when no fd is attached. */
    public static byte[] vringFd(int index, boolean noFd) {
        return u64((index & 0xffL) | (noFd ? WireFormat.VRING_FD_NO_FD : 0));
    }

    public static byte[] memTable(List<Message.MemoryRegion> regions) {
        ByteBuffer b = le(8 + 32 * regions.size()).putInt(regions.size()).putInt(0);
        regions.forEach(r -> region(b, r));
        return b.array();
    }

    public static byte[] singleRegion(Message.MemoryRegion r) {
        ByteBuffer b = le(40).putLong(0);
        region(b, r);
        return b.array();
    }

    public static byte[] config(int offset, int size, int flags, byte[] data) {
        return le(12 + data.length).putInt(offset).putInt(size).putInt(flags).put(data).array();
    }

    private static void region(ByteBuffer b, Message.MemoryRegion r) {
        b.putLong(r.guestPhysAddr()).putLong(r.size()).putLong(r.userAddr()).putLong(r.mmapOffset());
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
