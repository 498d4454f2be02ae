package dev.vhostd.daemon;

import sun.misc.Signal;

/**
 * Routes SIGTERM and SIGINT to an orderly stop instead of the JVM's shutdown, so that the serve loop
 * can finish in-flight requests, flush, clean up and return exit status 0 (systemd and container
 * runtimes treat 143 as a failure). A second signal while stopping exits at once.
 */
final class StopSignals {
    private static final System.Logger LOG = System.getLogger("vhostd");

    private StopSignals() {}

    /**
     * SIGHUP (a closed controlling terminal, or an operator's habitual "reload") would otherwise kill
     * the JVM with status 129 and leave the socket file behind. vhostd has no configuration to
     * re-read, so it says so and keeps serving.
     */
    static void ignoreHangup() {
        Signal.handle(new Signal("HUP"), sig -> LOG.log(System.Logger.Level.WARNING,
                "SIGHUP received and ignored: vhostd has nothing to reload; restart it to change its options"));
    }

    static void install(Runnable stop) {
        ignoreHangup();
        boolean[] stopping = {false};
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> {
                synchronized (stopping) {
                    if (stopping[0]) {
                        System.err.println("vhostd: second SIG" + sig.getName() + " while stopping; exiting now");
                        Runtime.getRuntime().halt(128 + sig.getNumber());
                    }
                    stopping[0] = true;
                }
                Thread.ofPlatform().name("vhostd-stop").start(stop);
            });
        }
    }
}
