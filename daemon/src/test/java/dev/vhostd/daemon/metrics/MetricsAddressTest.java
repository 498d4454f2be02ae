package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsAddressTest {
    @Test
    void barePortBindsLoopbackOnly() {
        MetricsAddress a = MetricsAddress.parse("9477");
        assertTrue(a.isLoopback());
        assertEquals(InetAddress.getLoopbackAddress(), a.address().getAddress());
        assertEquals(9477, a.address().getPort());
    }

    @Test
    void ipv4AndHostNames() {
        assertEquals("127.0.0.1:9477", MetricsAddress.parse("127.0.0.1:9477").toString());
        MetricsAddress all = MetricsAddress.parse("0.0.0.0:80");
        assertFalse(all.isLoopback());
        assertEquals("0.0.0.0:80", all.toString());
        assertTrue(MetricsAddress.parse("localhost:9477").isLoopback());
    }

    @Test
    void ipv6InBrackets() {
        MetricsAddress a = MetricsAddress.parse("[::1]:9477");
        assertTrue(a.isLoopback());
        assertEquals("[0:0:0:0:0:0:0:1]:9477", a.toString());
        assertEquals(65535, MetricsAddress.parse("[::]:65535").address().getPort());
    }

    @Test
    void rejectsWithActionableMessages() {
        assertRejected("", "empty");
        assertRejected("localhost", "no port");
        assertRejected(":9477", "no host");
        assertRejected("::1:9477", "in brackets");
        assertRejected("[::1]9477", "[ADDRESS]:PORT");
        assertRejected("[::1]", "[ADDRESS]:PORT");
        assertRejected("[localhost]:9477", "only for IPv6");
        assertRejected("127.0.0.1:0", "from 1 to 65535");
        assertRejected("65536", "from 1 to 65535");
        assertRejected("127.0.0.1:http", "not a number");
        assertRejected("127.0.0.1:99999999999", "not a number");
        assertRejected("127.0.0.1:-1", "not a number");
        assertRejected("no-such-host.invalid:9477", "cannot be resolved");
    }

    @Test
    void picocliConverterReportsTheSameMessage() {
        var ex = assertThrows(CommandLine.TypeConversionException.class,
                () -> new MetricsAddressConverter().convert("::1:9477"));
        assertTrue(ex.getMessage().contains("[::1]:9477"), ex.getMessage());
        assertEquals(9477, new MetricsAddressConverter().convert("9477").address().getPort());
    }

    private static void assertRejected(String text, String messagePart) {
        var ex = assertThrows(IllegalArgumentException.class, () -> MetricsAddress.parse(text), text);
        assertTrue(ex.getMessage().contains(messagePart), "for \"" + text + "\": " + ex.getMessage());
    }
}
