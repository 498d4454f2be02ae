package dev.vhostd.sys;

/**
 * A libc call failed. Carries the call's name and errno so callers can react to specific errors
 * (EINTR, EAGAIN, EOPNOTSUPP) and operators see what failed and why.
 */
public final class ErrnoException extends RuntimeException {
    private final String call;
    private final int errno;

    public ErrnoException(String call, int errno) {
        this(call, errno, null);
    }

    public ErrnoException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.name(errno) + " (" + Libc.strerror(errno) + ")"
                + (detail == null ? "" : ": " + detail));
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
