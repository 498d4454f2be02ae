package dev.vhostd.daemon.limits;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A disk's I/O limits, per second; 0 means no limit. {@code iops} and {@code bps} count reads and
 * writes together, the others one direction. A request must fit every limit that applies to it:
 * a read is counted against iops, read_iops, bps and read_bps. Discard and write-zeroes count as
 * write operations of no bytes (they move no data); flush and get-id are never held back.
 * Immutable: a change is a new value, published to the pollers (see {@link RateLimiter}). The JSON
 * names are those of the control API ({@code disk_set_limits}, {@code disk_get}).
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
            throw new IllegalArgumentException(name + " must be 0 (no limit) or a positive rate per second, got "
                    + value);
        }
    }

    /** True if nothing is limited. */
    public boolean unlimited() {
        return iops == 0 && readIops == 0 && writeIops == 0 && bps == 0 && readBps == 0 && writeBps == 0;
    }
}
