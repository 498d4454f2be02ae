package dev.vhostd.daemon.disk;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A disk's I/O limits: requests and bytes per second, in total and per direction; 0 means none.
 * Immutable: a change publishes a new value that the pollers pick up at a batch boundary.
 */
public record Limits(
        @JsonProperty("iops") long iops,
        @JsonProperty("read_iops") long readIops,
        @JsonProperty("write_iops") long writeIops,
        @JsonProperty("bps") long bps,
        @JsonProperty("read_bps") long readBps,
        @JsonProperty("write_bps") long writeBps) {
    public static final Limits NONE = new Limits(0, 0, 0, 0, 0, 0);

    public Limits {
        check("iops", iops);
        check("read_iops", readIops);
        check("write_iops", writeIops);
        check("bps", bps);
        check("read_bps", readBps);
        check("write_bps", writeBps);
    }

    private static void check(String name, long value) {
        if (value < 0) {
            throw DiskException.invalid(name + " must be 0 (no limit) or positive, got " + value);
        }
    }

    public boolean none() {
        return equals(NONE);
    }
}
