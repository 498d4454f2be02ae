package dev.vhostd.daemon.systemd;

/**
 * One socket passed by the service manager: its fd number (3 and up) and the name the socket unit gave
 * it ({@code FileDescriptorName=}; systemd's default is the socket unit's name, "unknown" when the
 * manager passed no names at all).
 */
public record ListenFd(int fd, String name) {
    public ListenFd {
        if (fd < ListenFds.SD_LISTEN_FDS_START) {
            throw new IllegalArgumentException("passed fds start at " + ListenFds.SD_LISTEN_FDS_START + ", not " + fd);
        }
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("fd " + fd + " needs a name");
        }
    }
}
