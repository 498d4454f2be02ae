package dev.vhostd.protocol.poll;

/** Busy and blocked time of one poller thread, read from other threads at scrape time. */
public final class PollerThreadStats {
    private volatile long busyNanos;
    private volatile long blockedNanos;

    void addBusy(long nanos) {
        busyNanos = busyNanos + nanos; // single writer: the poller thread
    }

    void addBlocked(long nanos) {
        blockedNanos = blockedNanos + nanos;
    }

    public long busyNanos() {
        return busyNanos;
    }

    public long blockedNanos() {
        return blockedNanos;
    }
}
