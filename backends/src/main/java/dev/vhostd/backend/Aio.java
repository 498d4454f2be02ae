package dev.vhostd.backend;

import java.util.Locale;

/** How a file backend performs I/O. */
public enum Aio {
    /**
     * io_uring when the kernel and any seccomp filter allow it, else synchronous (logged). Buffered
     * reads or writes that the file system cannot start without blocking (tmpfs; ext4 writes) run
     * directly on the poller instead of through io_uring's kernel worker threads.
     */
    AUTO,
    /** io_uring for every request, or fail: for operators who want to know when it is unavailable. */
    IO_URING,
    /** preadv/pwritev on the caller's thread. */
    SYNC;

    /** Parses "auto", "io_uring" (or "io-uring", "uring") and "sync". */
    public static Aio parse(String text) {
        String s = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "auto" -> AUTO;
            case "io_uring", "io-uring", "uring" -> IO_URING;
            case "sync", "threads" -> SYNC;
            default -> throw new IllegalArgumentException("unknown aio engine '" + text + "'; use auto, io_uring or sync");
        };
    }

    public String optionName() {
        return switch (this) {
            case AUTO -> "auto";
            case IO_URING -> "io_uring";
            case SYNC -> "sync";
        };
    }
}
