package dev.vhostd.protocol.frontend;

/** A GET_CONFIG answer: the window {@code offset .. offset + data.length} of the device config space. */
public record DeviceConfig(int offset, int flags, byte[] data) {
    public DeviceConfig {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Little-endian u64 at {@code at} within the config space (absolute offset). */
    public long u64(int at) {
        return java.nio.ByteBuffer.wrap(data, window(at, 8), 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    }

    public int u32(int at) {
        return java.nio.ByteBuffer.wrap(data, window(at, 4), 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
    }

    public int u16(int at) {
        return Short.toUnsignedInt(java.nio.ByteBuffer.wrap(data, window(at, 2), 2)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getShort());
    }

    private int window(int at, int len) {
        int rel = at - offset;
        if (rel < 0 || rel > data.length - len) {
            throw new IndexOutOfBoundsException("config bytes " + at + ".." + (at + len) + " are outside the window "
                    + offset + ".." + (offset + data.length) + " the back-end returned");
        }
        return rel;
    }
}
