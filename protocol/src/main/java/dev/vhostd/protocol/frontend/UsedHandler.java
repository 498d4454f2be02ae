package dev.vhostd.protocol.frontend;

/** Receives completed requests from {@link DriverQueue#reapUsed}: the chain's head and the bytes the device wrote. */
@FunctionalInterface
public interface UsedHandler {
    void completed(int head, int writtenLength);
}
