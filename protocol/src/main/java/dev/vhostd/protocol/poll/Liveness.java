package dev.vhostd.protocol.poll;

/**
 * A thread the daemon depends on (a poller, an accept loop), as a health check sees it. "Stalled"
 * means stuck inside one step of its work: a poller inside one doWork or command, an accept loop
 * inside the handling of one message. Waiting for work (a poller blocked in epoll_wait for kicks, an
 * accept loop waiting for a connection or the next message) is not stalling.
 */
public interface Liveness {
    /** For log lines and /healthz: "vhostd-poller-0", "accept loop on /run/vhostd/vda.sock". */
    String name();

    /**
     * How long the current step has been running at {@code nowNanos} (System.nanoTime()), 0 when
     * idle, {@link Long#MAX_VALUE} when the thread is gone although it should be running.
     */
    long stalledNanos(long nowNanos);
}
