package dev.vhostd.protocol.poll;

/**
 * The front-end ended a ring by closing or breaking its kick fd (EPOLLHUP or EPOLLERR): no kick can
 * arrive any more, so the ring stops instead of the poller waking for the hang-up forever.
 */
public final class RingEndedException extends RuntimeException {
    public RingEndedException(String message) {
        super(message);
    }
}
