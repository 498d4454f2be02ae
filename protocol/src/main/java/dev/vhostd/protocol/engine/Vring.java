package dev.vhostd.protocol.engine;

import dev.vhostd.protocol.poll.Poller;
import dev.vhostd.protocol.poll.QueueBinding;
import dev.vhostd.sys.OwnedFd;

/** The engine's state for one ring, as the front-end configured it. Touched by the connection thread only. */
final class Vring {
    final int index;
    int num;
    boolean addressSet;
    long descUserAddr;
    long usedUserAddr;
    long availUserAddr;
    /** VHOST_VRING_F_LOG: used-ring writes are logged, at {@link #logGuestAddr} (vhost-user.rst "Migration"). */
    boolean logUsed;
    long logGuestAddr;
    /** The next avail index to process (SET_VRING_BASE, and where a stopped ring left off). */
    int base;
    /** A kick fd (or the polling request) has arrived: the ring is started (vhost-user.rst "Ring states"). */
    boolean started;
    OwnedFd kick;
    OwnedFd call;
    OwnedFd err;
    boolean enabled;
    /** Non-null while a poller serves the ring. */
    QueueBinding binding;
    Poller poller;

    Vring(int index) {
        this.index = index;
    }

    boolean running() {
        return binding != null;
    }

    /** Back to the state of a fresh connection; fds are closed. */
    void reset() {
        num = 0;
        addressSet = false;
        logUsed = false;
        logGuestAddr = 0;
        base = 0;
        started = false;
        enabled = false;
        closeFds();
    }

    void closeFds() {
        if (kick != null) {
            kick.close();
            kick = null;
        }
        if (call != null) {
            call.close();
            call = null;
        }
        if (err != null) {
            err.close();
            err = null;
        }
    }
}
