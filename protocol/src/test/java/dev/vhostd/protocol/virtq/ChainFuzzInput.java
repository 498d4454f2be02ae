package dev.vhostd.protocol.virtq;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The byte format the chain-walking fuzz target reads, and a writer for seeds. Missing bytes read as
 * zero, so any byte string is a valid input. All fields little-endian:
 * <pre>
 *   u8  sizeLog        queue size = 1 << ((sizeLog & 0x7f) % 7)   (1..64); bit 7: EVENT_IDX
 *   u16 nextAvail      device's starting avail index
 *   u16 availIdx       driver's published avail idx
 *   u16 ring[size]     avail ring entries
 *   desc[size]         descriptor table: u64 addr, u32 len, u16 flags, u16 next
 *   u8  indirectCount  entries of the indirect table at {@link #INDIRECT_GPA}
 *   desc[indirectCount]
 *   u8  options        bit 0: call enableNotifications() before the first pop
 * </pre>
 */
final class ChainFuzzInput {
    static final int MAX_SIZE = 64;
    /** Guest RAM of the fuzz target: two adjacent 64 KiB regions, gpa 0..0x20000. */
    static final long REGION_SIZE = 0x10000;
    static final long DESC_GPA = 0x0000;
    static final long AVAIL_GPA = 0x1000;
    static final long USED_GPA = 0x2000;
    static final long INDIRECT_GPA = 0x4000;
    static final int MAX_INDIRECT = 255;

    int sizeLog;
    int nextAvail;
    int availIdx;
    final int[] ring = new int[MAX_SIZE];
    final long[] addr = new long[MAX_SIZE];
    final int[] len = new int[MAX_SIZE];
    final int[] flags = new int[MAX_SIZE];
    final int[] next = new int[MAX_SIZE];
    int indirectCount;
    int options;
    final long[] iaddr = new long[MAX_INDIRECT];
    final int[] ilen = new int[MAX_INDIRECT];
    final int[] iflags = new int[MAX_INDIRECT];
    final int[] inext = new int[MAX_INDIRECT];

    int size() {
        return 1 << ((sizeLog & 0x7F) % 7);
    }

    boolean eventIdx() {
        return (sizeLog & 0x80) != 0;
    }

    static ChainFuzzInput parse(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(data.length, 4 + 2 * MAX_SIZE + 16 * MAX_SIZE + 1 + 16 * MAX_INDIRECT + 9))
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(data).flip();
        b.limit(b.capacity());
        ChainFuzzInput in = new ChainFuzzInput();
        in.sizeLog = Byte.toUnsignedInt(b.get());
        int size = in.size();
        in.nextAvail = Short.toUnsignedInt(b.getShort());
        in.availIdx = Short.toUnsignedInt(b.getShort());
        for (int i = 0; i < size; i++) {
            in.ring[i] = Short.toUnsignedInt(b.getShort());
        }
        for (int i = 0; i < size; i++) {
            in.addr[i] = b.getLong();
            in.len[i] = b.getInt();
            in.flags[i] = Short.toUnsignedInt(b.getShort());
            in.next[i] = Short.toUnsignedInt(b.getShort());
        }
        in.indirectCount = Byte.toUnsignedInt(b.get());
        for (int i = 0; i < in.indirectCount; i++) {
            in.iaddr[i] = b.getLong();
            in.ilen[i] = b.getInt();
            in.iflags[i] = Short.toUnsignedInt(b.getShort());
            in.inext[i] = Short.toUnsignedInt(b.getShort());
        }
        in.options = Byte.toUnsignedInt(b.get());
        return in;
    }

    byte[] toBytes() {
        int size = size();
        ByteBuffer b = ByteBuffer.allocate(5 + 2 * size + 16 * size + 1 + 16 * indirectCount + 1).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) sizeLog).putShort((short) nextAvail).putShort((short) availIdx);
        for (int i = 0; i < size; i++) {
            b.putShort((short) ring[i]);
        }
        for (int i = 0; i < size; i++) {
            b.putLong(addr[i]).putInt(len[i]).putShort((short) flags[i]).putShort((short) next[i]);
        }
        b.put((byte) indirectCount);
        for (int i = 0; i < indirectCount; i++) {
            b.putLong(iaddr[i]).putInt(ilen[i]).putShort((short) iflags[i]).putShort((short) inext[i]);
        }
        b.put((byte) options);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(b.array());
        return out.toByteArray();
    }

    ChainFuzzInput desc(int i, long a, int l, int f, int n) {
        addr[i] = a;
        len[i] = l;
        flags[i] = f;
        next[i] = n;
        return this;
    }

    ChainFuzzInput indirect(int i, long a, int l, int f, int n) {
        iaddr[i] = a;
        ilen[i] = l;
        iflags[i] = f;
        inext[i] = n;
        indirectCount = Math.max(indirectCount, i + 1);
        return this;
    }
}
