package dev.vhostd.daemon;

import sun.misc.Signal;

/**
 * Routes SIGTERM and SIGINT to an orderly stop instead of the JVM's shutdown, so that the serve loop
 * can finish in-flight requests, flush, clean up and return exit status 0 (systemd and container
 * runtimes treat 143 as a failure). A second signal while stopping exits at once.
 */
final class StopSignals {
    private StopSignals() {}

    static void install(Runnable stop) {
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
