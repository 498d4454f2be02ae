package dev.vhostd.daemon.systemd;

import org.newsclub.net.unix.AFUNIXDatagramSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** A bound AF_UNIX datagram socket standing in for the service manager's notification socket. */
final class DatagramReceiver implements AutoCloseable {
    private final AFUNIXDatagramSocket socket;

    DatagramReceiver(AFUNIXSocketAddress address) throws IOException {
        socket = AFUNIXDatagramSocket.newInstance();
        socket.bind(address);
        socket.setSoTimeout(5000);
    }

    /** The next datagram as text; fails the test after 5 s. */
    String receive() throws IOException {
        byte[] buf = new byte[4096];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        socket.receive(p);
        return new String(buf, 0, p.getLength(), StandardCharsets.UTF_8);
    }

    /** The next datagram, waiting up to {@code millis} (a child JVM may take long to start). */
    String receive(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            return receive();
        } finally {
            socket.setSoTimeout(5000);
        }
    }

    /** Whether a datagram arrives within {@code millis}. */
    boolean anyWithin(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            receive();
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } finally {
            socket.setSoTimeout(5000);
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
