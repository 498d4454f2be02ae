package dev.vhostd.daemon.disk;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Names of negotiated feature bits for {@code disk_get}: virtio 1.2 section 5.2.3 and 6, vhost-user.rst. */
final class FeatureNames {
    private static final Map<Integer, String> VIRTIO = Map.ofEntries(
            Map.entry(1, "SIZE_MAX"), Map.entry(2, "SEG_MAX"), Map.entry(4, "GEOMETRY"), Map.entry(5, "RO"),
            Map.entry(6, "BLK_SIZE"), Map.entry(9, "FLUSH"), Map.entry(10, "TOPOLOGY"), Map.entry(11, "CONFIG_WCE"),
            Map.entry(12, "MQ"), Map.entry(13, "DISCARD"), Map.entry(14, "WRITE_ZEROES"),
            Map.entry(28, "RING_INDIRECT_DESC"), Map.entry(29, "RING_EVENT_IDX"),
            Map.entry(30, "VHOST_USER_PROTOCOL_FEATURES"), Map.entry(32, "VERSION_1"),
            Map.entry(33, "ACCESS_PLATFORM"), Map.entry(34, "RING_PACKED"));
    private static final Map<Integer, String> PROTOCOL = Map.ofEntries(
            Map.entry(0, "MQ"), Map.entry(1, "LOG_SHMFD"), Map.entry(2, "RARP"), Map.entry(3, "REPLY_ACK"),
            Map.entry(4, "NET_MTU"), Map.entry(5, "BACKEND_REQ"), Map.entry(6, "CROSS_ENDIAN"),
            Map.entry(7, "CRYPTO_SESSION"), Map.entry(8, "PAGEFAULT"), Map.entry(9, "CONFIG"),
            Map.entry(10, "BACKEND_SEND_FD"), Map.entry(11, "HOST_NOTIFIER"), Map.entry(12, "INFLIGHT_SHMFD"),
            Map.entry(13, "RESET_DEVICE"), Map.entry(14, "INBAND_NOTIFICATIONS"),
            Map.entry(15, "CONFIGURE_MEM_SLOTS"), Map.entry(16, "STATUS"));

    private FeatureNames() {}

    static List<String> virtio(long bits) {
        return names(bits, VIRTIO);
    }

    static List<String> protocol(long bits) {
        return names(bits, PROTOCOL);
    }

    private static List<String> names(long bits, Map<Integer, String> known) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            if ((bits & (1L << i)) != 0) {
                out.add(known.getOrDefault(i, "bit " + i));
            }
        }
        return out;
    }
}
