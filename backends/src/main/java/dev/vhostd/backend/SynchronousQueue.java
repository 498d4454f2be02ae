package dev.vhostd.backend;

/** A queue whose {@link #submit} always completes on the caller's thread: nothing is ever in flight. */
interface SynchronousQueue extends BackendQueue {
    @Override
    default int reap(CompletionSink sink) {
        return 0;
    }

    @Override
    default int inFlight() {
        return 0;
    }

    @Override
    default int completionFd() {
        return -1;
    }

    @Override
    default void drain(CompletionSink sink) {}
}
