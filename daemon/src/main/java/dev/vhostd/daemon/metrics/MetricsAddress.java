package dev.vhostd.daemon.metrics;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * Where the metrics endpoint listens, parsed from {@code --metrics}. Accepted forms:
 * <ul>
 *   <li>{@code 9477}: loopback only (127.0.0.1); the safe default for a bare port, because the
 *       endpoint has no authentication and its series reveal guest I/O activity;</li>
 *   <li>{@code HOST:PORT} with an IPv4 address or a host name, e.g. {@code localhost:9477} or
 *       {@code 0.0.0.0:9477} (all interfaces, only behind a firewall or on a trusted network);</li>
 *   <li>{@code [IPV6]:PORT}, e.g. {@code [::1]:9477} or {@code [::]:9477}.</li>
 * </ul>
 */
public record MetricsAddress(InetSocketAddress address) {
    public MetricsAddress {
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("metrics address " + address + " is not resolved");
        }
    }

    /**
     * Parses a {@code --metrics} value.
     *
     * @throws IllegalArgumentException with a message an operator can act on
     */
    public static MetricsAddress parse(String text) {
        String s = text == null ? "" : text.strip();
        if (s.isEmpty()) {
            throw invalid(text, "it is empty");
        }
        if (s.chars().allMatch(Character::isDigit)) {
            return new MetricsAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), port(text, s)));
        }
        String host;
        String port;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                throw invalid(text, "an IPv6 address must be written [ADDRESS]:PORT");
            }
            host = s.substring(1, close);
            port = s.substring(close + 2);
            if (!host.contains(":")) {
                throw invalid(text, "brackets are only for IPv6 addresses; write HOST:PORT for others");
            }
        } else {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw invalid(text, "no port; write HOST:PORT, [IPV6]:PORT or a bare PORT for loopback");
            }
            if (s.indexOf(':') != colon) {
                throw invalid(text, "an IPv6 address must be in brackets, e.g. [::1]:9477");
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
            if (host.isEmpty()) {
                throw invalid(text, "no host; write 127.0.0.1:PORT for loopback or 0.0.0.0:PORT for all interfaces");
            }
        }
        int p = port(text, port);
        try {
            return new MetricsAddress(new InetSocketAddress(InetAddress.getByName(host), p));
        } catch (UnknownHostException e) {
            throw invalid(text, "host \"" + host + "\" cannot be resolved (" + e.getMessage() + ")");
        }
    }

    private static int port(String text, String port) {
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw invalid(text, "the port \"" + port + "\" is not a number from 1 to 65535");
        }
        int p = Integer.parseInt(port);
        if (p < 1 || p > 65535) {
            throw invalid(text, "the port " + p + " is not from 1 to 65535");
        }
        return p;
    }

    private static IllegalArgumentException invalid(String text, String why) {
        return new IllegalArgumentException("invalid --metrics address \"" + text + "\": " + why);
    }

    /** True if only this host can connect. */
    public boolean isLoopback() {
        return address.getAddress().isLoopbackAddress();
    }

    /** The form an operator would type, for log lines: {@code 127.0.0.1:9477}, {@code [::1]:9477}. */
    @Override
    public String toString() {
        String host = address.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
