package dev.vhostd.backend;

/**
 * Runs a native call that may block for long (librbd waiting for the cluster) on a platform thread
 * when the caller is a virtual thread. A virtual thread inside a native call cannot unmount and
 * holds its carrier; the daemon serves its control API and each disk's vhost-user connection on
 * virtual threads over as many carriers as cores, so a few calls waiting for a cluster that stopped
 * answering would stop all of them. Joining the platform thread instead unmounts the virtual
 * thread. Platform callers (the main thread at start-up, tests) run the call directly.
 */
final class PlatformThreadCall {
    private PlatformThreadCall() {}

    /** A call that returns a value or throws {@code E}. */
    @FunctionalInterface
    interface Call<T, E extends Exception> {
        T call() throws E;
    }

    /** Runs {@code call}; its result, exception or error reach the caller as if it had run it. */
    @SuppressWarnings("unchecked")
    static <T, E extends Exception> T run(String name, Call<T, E> call) throws E {
        if (!Thread.currentThread().isVirtual()) {
            return call.call();
        }
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        Thread t = Thread.ofPlatform().name(name).daemon().start(() -> {
            try {
                result[0] = call.call();
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        // The native call cannot be interrupted: wait for it, and hand the interrupt on afterwards.
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        // Thread.join orders the thread's writes before what follows it.
        Throwable f = failure[0];
        if (f instanceof RuntimeException r) {
            throw r;
        }
        if (f instanceof Error e) {
            throw e;
        }
        if (f != null) {
            throw (E) f;
        }
        return (T) result[0];
    }
}
