package dev.vhostd.protocol.wire;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;

import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.OwnedFd;

/**
 * Fuzzes {@link MessageDecoder#decode}. Input layout (little-endian): u32 request code, u32 flags,
 * u8 fd count (taken modulo 17), then the payload (at most {@link WireFormat#MAX_PAYLOAD_SIZE} bytes,
 * as the connection enforces). Real eventfds are attached. Only {@link VhostUserException} may escape,
 * and then every fd must be closed; on success exactly the fds the message carries stay open.
 *
 * <p>The normal build replays the seeds in {@code MessageDecoderFuzzTestInputs/decode/}; fuzz with
 * {@code JAZZER_FUZZ=1 mvn -pl protocol test -Dtest=MessageDecoderFuzzTest}.
 */
class MessageDecoderFuzzTest {
    private static final int PREFIX = 9;
    private static final int MAX_FDS = 17;

    @FuzzTest(maxDuration = "15m")
    void decode(byte[] input) {
        if (input.length < PREFIX) {
            return;
        }
        ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        int code = in.getInt();
        int flags = in.getInt();
        int fdCount = Byte.toUnsignedInt(in.get()) % MAX_FDS;
        int size = Math.min(in.remaining(), WireFormat.MAX_PAYLOAD_SIZE);
        ByteBuffer payload = in.slice(in.position(), size);

        List<OwnedFd> fds = new ArrayList<>();
        for (int i = 0; i < fdCount; i++) {
            fds.add(new OwnedFd(EventFd.create()));
        }
        try {
            Message m = MessageDecoder.decode(code, flags, payload, List.copyOf(fds));
            List<OwnedFd> kept = MessageFds.of(m);
            for (OwnedFd fd : fds) {
                boolean carried = kept.stream().anyMatch(k -> k == fd);
                if (fd.isOpen() != carried) {
                    throw new AssertionError(fd + " open=" + fd.isOpen() + " but carried by the message=" + carried
                            + " (" + m.request() + ")");
                }
            }
            if (m.request().code != code) {
                throw new AssertionError("decoded " + m.request() + " from code " + code);
            }
            MessageFds.close(m);
        } catch (VhostUserException e) {
            for (OwnedFd fd : fds) {
                if (fd.isOpen()) {
                    throw new AssertionError("fd left open after rejection: " + e.getMessage());
                }
            }
        } finally {
            fds.forEach(OwnedFd::close);
        }
    }

    /** The seeds are well-formed messages of every request type (plus two named bad ones). */
    @Test
    void seedsAreValidMessagesOfEveryType() throws IOException {
        java.util.Set<Request> seen = java.util.EnumSet.noneOf(Request.class);
        for (String name : SEEDS) {
            byte[] input;
            try (InputStream s = getClass().getResourceAsStream("MessageDecoderFuzzTestInputs/decode/" + name)) {
                if (s == null) {
                    throw new AssertionError("missing seed " + name);
                }
                input = s.readAllBytes();
            }
            ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
            int code = in.getInt();
            int flags = in.getInt();
            int fdCount = in.get();
            List<OwnedFd> fds = new ArrayList<>();
            for (int i = 0; i < fdCount; i++) {
                fds.add(new OwnedFd(EventFd.create()));
            }
            try {
                Message m = MessageDecoder.decode(code, flags, in.slice(), fds);
                seen.add(m.request());
                MessageFds.close(m);
            } finally {
                fds.forEach(OwnedFd::close);
            }
        }
        org.junit.jupiter.api.Assertions.assertEquals(java.util.EnumSet.allOf(Request.class), seen);
    }

    private static final List<String> SEEDS = List.of("get_features", "set_features", "set_owner", "reset_owner",
            "set_mem_table_1", "set_mem_table_2", "set_mem_table_8", "set_log_base", "set_log_fd", "set_vring_num", "set_vring_addr",
            "set_vring_base", "get_vring_base", "set_vring_kick", "set_vring_kick_nofd", "set_vring_call",
            "set_vring_err", "get_protocol_features", "set_protocol_features", "get_queue_num", "set_vring_enable", "set_backend_req_fd",
            "get_config", "set_config", "get_inflight_fd", "set_inflight_fd", "reset_device", "get_max_mem_slots", "add_mem_reg", "rem_mem_reg");
}
