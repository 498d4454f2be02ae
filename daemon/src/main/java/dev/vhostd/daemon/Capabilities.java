package dev.vhostd.daemon;

/** What {@code --print-capabilities} reports (vhost-user.rst "Backend program conventions"). */
final class Capabilities {
    private Capabilities() {}

    static String json() {
        return "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}";
    }
}
