package dev.vhostd.protocol.virtq;

/**
 * VIRTIO_F_EVENT_IDX arithmetic: the rule of virtio 1.2 sections 2.7.7 "Used Buffer Notification
 * Suppression" and 2.7.10 "Available Buffer Notification Suppression", written as vring_need_event in
 * the spec's virtio_queue.h appendix.
 */
public final class EventIdx {
    private EventIdx() {}

    /**
     * True if moving an index from {@code oldIdx} to {@code newIdx} passed {@code eventIdx}, i.e. the
     * other side asked to be notified at an index in {@code [oldIdx, newIdx)}. All three are u16 ring
     * indices; the comparison is done modulo 2^16 so it holds across the wrap from 65535 to 0.
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }
}
