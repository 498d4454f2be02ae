package dev.vhostd.daemon.blk;

import dev.vhostd.protocol.device.ConfigNotice;

/**
 * The result of a resize: the capacity before and after, in bytes, and what became of telling the
 * front-end (null when the size did not change, so nobody was told).
 */
public record Resized(long before, long after, ConfigNotice notice) {
    public boolean changed() {
        return after != before;
    }
}
