package dev.vhostd.protocol.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MessageEncoderTest {
    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void header(ByteBuffer b, int code, int size) {
        assertEquals(code, b.getInt());
        assertEquals(WireFormat.VERSION | WireFormat.FLAG_REPLY, b.getInt());
        assertEquals(size, b.getInt());
        assertEquals(size, b.remaining());
    }

    @Test
    void u64Replies() {
        ByteBuffer b = le(MessageEncoder.reply(new Message.GetFeatures(), new Reply.U64(0x1_0000_0001L)));
        header(b, 1, 8);
        assertEquals(0x1_0000_0001L, b.getLong());
        header(le(MessageEncoder.reply(new Message.GetProtocolFeatures(), new Reply.U64(1))), 15, 8);
        header(le(MessageEncoder.reply(new Message.GetQueueNum(), new Reply.U64(1))), 17, 8);
        header(le(MessageEncoder.reply(new Message.GetMaxMemSlots(), new Reply.U64(1))), 36, 8);
    }

    @Test
    void vringStateReply() {
        ByteBuffer b = le(MessageEncoder.reply(new Message.GetVringBase(2), new Reply.VringState(2, 77)));
        header(b, 11, 8);
        assertEquals(2, b.getInt());
        assertEquals(77, b.getInt());
    }

    @Test
    void configReply() {
        ByteBuffer b = le(MessageEncoder.reply(new Message.GetConfig(4, 3, 0), new Reply.Config(4, 0, new byte[] {1, 2, 3})));
        header(b, 24, 15);
        assertEquals(4, b.getInt());
        assertEquals(3, b.getInt());
        assertEquals(0, b.getInt());
        assertEquals(1, b.get());
        assertThrows(IllegalArgumentException.class,
                () -> MessageEncoder.reply(new Message.GetConfig(0, 4, 0), new Reply.Config(0, 0, new byte[3])));
        header(le(MessageEncoder.configError()), 24, 0);
    }

    @Test
    void mismatchedRepliesAreEngineBugs() {
        assertThrows(IllegalArgumentException.class,
                () -> MessageEncoder.reply(new Message.GetFeatures(), new Reply.VringState(0, 0)));
        assertThrows(IllegalArgumentException.class,
                () -> MessageEncoder.reply(new Message.GetVringBase(0), new Reply.U64(0)));
        assertThrows(IllegalArgumentException.class,
                () -> MessageEncoder.reply(new Message.SetOwner(), new Reply.U64(0)));
        assertThrows(IllegalArgumentException.class, () -> MessageEncoder.reply(new Message.GetFeatures(), Reply.NONE));
    }

    @Test
    void acks() {
        ByteBuffer ok = le(MessageEncoder.ack(Request.SET_MEM_TABLE, true));
        header(ok, 5, 8);
        assertEquals(0, ok.getLong());
        ByteBuffer fail = le(MessageEncoder.ack(99, false));
        header(fail, 99, 8);
        assertEquals(1, fail.getLong());
    }

    @Test
    void maxPayloadCoversFullConfigAndMemTable() {
        assertEquals(268, WireFormat.MAX_PAYLOAD_SIZE);
        assertTrue(WireFormat.MAX_PAYLOAD_SIZE >= 8 + 8 * 32);
    }
}
