package dev.vhostd.protocol.device;

/**
 * A session's way for its device to tell the front-end that config space changed (virtio 1.x
 * 2.5.2 "Device Configuration Space": the config change notification). vhost-user carries it as
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the back-end channel; the front-end then reads the config
 * again with GET_CONFIG and notifies the guest.
 */
@FunctionalInterface
public interface ConfigNotifier {
    /** Tells the front-end; waits a bounded time for its answer. Never throws for what the peer does. */
    ConfigNotice configChanged();
}
