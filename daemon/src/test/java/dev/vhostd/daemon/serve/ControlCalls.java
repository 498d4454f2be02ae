package dev.vhostd.daemon.serve;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** JSON-RPC calls to a running vhostd's control socket, one connection per call, for the guest tests. */
final class ControlCalls {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ControlCalls() {}

    /** Sends one request and returns the whole response (result or error). */
    static JsonNode call(Path control, String method, String params) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(control));
            ByteBuffer out = ByteBuffer.wrap(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":"
                    + params + "}\n").getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(1);
            while (ch.read(in.clear()) > 0 && in.get(0) != '\n') {
                line.write(in.get(0));
            }
            return JSON.readTree(line.toByteArray());
        }
    }

    /** Fails the test unless the response carries no error. */
    static void ok(JsonNode response) {
        assertNull(response.get("error"), response.toString());
    }

    /** The result of a call that must succeed. */
    static JsonNode result(Path control, String method, String params) throws IOException {
        JsonNode r = call(control, method, params);
        ok(r);
        return r.get("result");
    }
}
