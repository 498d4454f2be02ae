package dev.vhostd.protocol.frontend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.List;

import dev.vhostd.protocol.wire.Request;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrontendCodecTest {
    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void headerCarriesRequestVersionAndSize() {
        byte[] m = FrontendCodec.message(Request.GET_FEATURES.code, 0, new byte[0]);
        assertArrayEquals(new byte[] {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, m);
        byte[] s = FrontendCodec.message(Request.SET_FEATURES.code, MessageHeader.FLAG_NEED_REPLY,
                FrontendCodec.u64(0x1_0000_0002L));
        ByteBuffer b = le(s);
        assertEquals(2, b.getInt());
        assertEquals(0x9, b.getInt(), "version 1 plus NEED_REPLY");
        assertEquals(8, b.getInt());
        assertEquals(0x1_0000_0002L, b.getLong());
    }

    @Test
    void requestMayNotSetReplyOrVersionBits() {
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.message(1, MessageHeader.FLAG_REPLY, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.message(1, 0x2, new byte[0]));
    }

    @Test
    void vringAddressIsIndexFlagsDescUsedAvailLog() {
        ByteBuffer b = le(FrontendCodec.vringAddress(new VringAddress(3, 0, 0x1000, 0x2000, 0x3000, 0x4000)));
        assertEquals(40, b.capacity());
        assertEquals(3, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(0x1000, b.getLong());
        assertEquals(0x2000, b.getLong(), "used comes before avail on the wire");
        assertEquals(0x3000, b.getLong());
        assertEquals(0x4000, b.getLong());
    }

    @Test
    void memoryTableIsCountPaddingRegions() {
        byte[] p = FrontendCodec.memoryTable(List.of(new MemoryRegion(0x1_0000_0000L, 0x20000, 0x7f00_0000_0000L, 0),
                new MemoryRegion(0, 4096, 0x7f00_1000_0000L, 8192)));
        ByteBuffer b = le(p);
        assertEquals(8 + 2 * 32, p.length);
        assertEquals(2, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(0x1_0000_0000L, b.getLong());
        assertEquals(0x20000, b.getLong());
        assertEquals(0x7f00_0000_0000L, b.getLong());
        assertEquals(0, b.getLong());
        assertEquals(0, b.getLong());
        assertEquals(4096, b.getLong());
        assertEquals(0x7f00_1000_0000L, b.getLong());
        assertEquals(8192, b.getLong());
    }

    @Test
    void memoryTableNeedsOneToEightRegions() {
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.memoryTable(List.of()));
        MemoryRegion r = new MemoryRegion(0, 4096, 0, 0);
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.memoryTable(Collections.nCopies(9, r)));
        assertEquals(8 + 8 * 32, FrontendCodec.memoryTable(Collections.nCopies(8, r)).length);
    }

    @Test
    void memoryRegionRejectsEmptyAndWrapping() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(0, 4096, 0, -1));
        assertThrows(ArithmeticException.class, () -> new MemoryRegion(Long.MAX_VALUE - 10, 4096, 0, 0));
        assertThrows(ArithmeticException.class, () -> new MemoryRegion(0, 4096, Long.MAX_VALUE, 0));
    }

    @Test
    void vringFileCarriesIndexAndNoFdBit() {
        assertEquals(5, le(FrontendCodec.vringFile(5, false)).getLong());
        assertEquals(0x105, le(FrontendCodec.vringFile(5, true)).getLong());
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.vringFile(256, false));
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.vringFile(-1, false));
    }

    @Test
    void vringStateIsIndexThenNum() {
        ByteBuffer b = le(FrontendCodec.vringState(1, 256));
        assertEquals(1, b.getInt());
        assertEquals(256, b.getInt());
        assertEquals(new VringState(1, 256), FrontendCodec.decodeVringState(FrontendCodec.vringState(1, 256)));
        assertThrows(FrontendException.class, () -> FrontendCodec.decodeVringState(new byte[12]));
    }

    @Test
    void configRequestCarriesWindowAndRoomForTheAnswer() {
        byte[] p = FrontendCodec.configRequest(0, 36);
        assertEquals(12 + 36, p.length);
        ByteBuffer b = le(p);
        assertEquals(0, b.getInt());
        assertEquals(36, b.getInt());
        assertEquals(0, b.getInt());
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.configRequest(200, 57));
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.configRequest(0, 0));
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.configRequest(-1, 4));
    }

    private static byte[] header(int request, int flags, int size) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(request).putInt(flags).putInt(size).array();
    }

    @Test
    void replyHeaderMustBeAVersion1ReplyToTheSameRequest() {
        MessageHeader ok = FrontendCodec.decodeHeader(header(1, 0x5, 8));
        assertEquals(new MessageHeader(1, 5, 8), ok);
        FrontendCodec.checkReplyHeader(ok, 1);
        assertThrows(FrontendException.class, () -> FrontendCodec.checkReplyHeader(ok, 2), "reply to another request");
        assertThrows(FrontendException.class,
                () -> FrontendCodec.checkReplyHeader(FrontendCodec.decodeHeader(header(1, 0x1, 8)), 1), "not a reply");
        assertThrows(FrontendException.class,
                () -> FrontendCodec.checkReplyHeader(FrontendCodec.decodeHeader(header(1, 0x6, 8)), 1), "version 2");
        assertThrows(FrontendException.class,
                () -> FrontendCodec.checkReplyHeader(FrontendCodec.decodeHeader(header(1, 0x5, 4097)), 1), "huge");
        assertThrows(FrontendException.class,
                () -> FrontendCodec.checkReplyHeader(FrontendCodec.decodeHeader(header(1, 0x5, -1)), 1), "negative");
        assertThrows(IllegalArgumentException.class, () -> FrontendCodec.decodeHeader(new byte[11]));
    }

    @Test
    void u64MustBeEightBytes() {
        assertEquals(-2L, FrontendCodec.decodeU64(FrontendCodec.u64(-2L)));
        assertThrows(FrontendException.class, () -> FrontendCodec.decodeU64(new byte[4]));
    }

    @Test
    void configReplyIsCheckedAgainstTheRequestedWindow() {
        byte[] reply = ByteBuffer.allocate(12 + 36).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(36).putInt(0)
                .putLong(131072).putInt(0).putInt(254).putInt(0).putInt(512).putLong(0).putShort((short) 0)
                .putShort((short) 4).array();
        DeviceConfig c = FrontendCodec.decodeConfig(reply, 0, 36);
        assertEquals(131072, c.u64(0));
        assertEquals(254, c.u32(12));
        assertEquals(512, c.u32(20));
        assertEquals(4, c.u16(34));
        assertThrows(IndexOutOfBoundsException.class, () -> c.u32(34), "past the window");
        FrontendException empty = assertThrows(FrontendException.class, () -> FrontendCodec.decodeConfig(new byte[0], 0, 36));
        assertTrue(empty.getMessage().contains("refused"));
        assertThrows(FrontendException.class, () -> FrontendCodec.decodeConfig(reply, 0, 40), "other size");
        assertThrows(FrontendException.class, () -> FrontendCodec.decodeConfig(reply, 4, 36), "other offset");
        assertThrows(FrontendException.class, () -> FrontendCodec.decodeConfig(new byte[8], 0, 36), "short");
    }
}
